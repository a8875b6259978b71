/**
 * Raw ARM REST JSON (nested `properties`, as the official examples and the wire carry it) →
 * the plain domain shapes. Tests only: production code reads ARM through the SDK adapters.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type {
  IdentityType,
  ImageReference,
  InstanceStatus,
  ObservedAssignment,
  ObservedExtension,
  ObservedVm,
} from "../../src/domain/vm.js";

type Json = Record<string, unknown>;

const FIXTURES = new URL("../fixtures/reference/arm-examples/", import.meta.url);

/** A saved official example (`compute/VirtualMachine_Get.json`), parsed. */
export function loadArmExample(relativePath: string): Json {
  return JSON.parse(readFileSync(fileURLToPath(new URL(relativePath, FIXTURES)), "utf8")) as Json;
}

/** The body of one response of an official example file. */
export function exampleResponseBody(example: Json, status = "200"): Json {
  const responses = obj(example["responses"]);
  return obj(obj(responses[status])["body"]);
}

function obj(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

function arr(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function statusesOf(value: unknown): InstanceStatus[] {
  return arr(value).map((s) => {
    const status: { code?: string; level?: string; displayStatus?: string; message?: string } = {};
    for (const key of ["code", "level", "displayStatus", "message"] as const) {
      const v = str(s[key]);
      if (v !== undefined) status[key] = v;
    }
    return status;
  });
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function identityType(raw: string | undefined): IdentityType {
  const t = (raw ?? "None").replace(/\s+/g, "").toLowerCase();
  if (t === "systemassigned,userassigned") return "SystemAssigned, UserAssigned";
  if (t === "systemassigned") return "SystemAssigned";
  if (t === "userassigned") return "UserAssigned";
  return "None";
}

/** An extension resource (`resources[]` item or `VirtualMachineExtensions_Get` body). */
export function observedExtensionFromArmJson(body: Json): ObservedExtension {
  const p = obj(body["properties"]);
  const iv = obj(p["instanceView"]);
  return defined({
    name: str(body["name"]) ?? "",
    publisher: str(p["publisher"]),
    type: str(p["type"]),
    typeHandlerVersion: str(p["typeHandlerVersion"]),
    provisioningState: str(p["provisioningState"]),
    statuses: statusesOf(iv["statuses"]),
    substatuses: statusesOf(iv["substatuses"]),
  });
}

/**
 * A VM body (`VirtualMachines_Get`, optionally with `$expand=instanceView`), with an optional
 * separate instance view body (`VirtualMachines_InstanceView`), → ObservedVm.
 */
export function observedVmFromArmJson(body: Json, separateInstanceView?: Json): ObservedVm {
  const p = obj(body["properties"]);
  const storage = obj(p["storageProfile"]);
  const image = obj(storage["imageReference"]);
  const iv = separateInstanceView ?? obj(p["instanceView"]);
  const identity = obj(body["identity"]);

  const power = statusesOf(iv["statuses"])
    .map((s) => s.code ?? "")
    .find((c) => c.toLowerCase().startsWith("powerstate/"));

  const extensions = new Map<string, ObservedExtension>();
  for (const resource of arr(body["resources"])) {
    const ext = observedExtensionFromArmJson(resource);
    extensions.set(ext.name.toLowerCase(), ext);
  }
  for (const view of arr(iv["extensions"])) {
    const name = str(view["name"]) ?? "";
    const known = extensions.get(name.toLowerCase());
    extensions.set(
      name.toLowerCase(),
      defined({
        name: known?.name ?? name,
        publisher: known?.publisher,
        type: known?.type ?? str(view["type"]),
        typeHandlerVersion: known?.typeHandlerVersion ?? str(view["typeHandlerVersion"]),
        provisioningState: known?.provisioningState,
        statuses: statusesOf(view["statuses"]),
        substatuses: statusesOf(view["substatuses"]),
      }),
    );
  }

  const imageReference: ImageReference | undefined =
    Object.keys(image).length === 0
      ? undefined
      : defined({
          publisher: str(image["publisher"]),
          offer: str(image["offer"]),
          sku: str(image["sku"]),
          version: str(image["version"]),
          id: str(image["id"]),
          sharedGalleryImageId: str(image["sharedGalleryImageId"]),
          communityGalleryImageId: str(image["communityGalleryImageId"]),
        });

  return defined({
    id: str(body["id"]) ?? "",
    name: str(body["name"]) ?? "",
    location: str(body["location"]) ?? "",
    tags: Object.fromEntries(Object.entries(obj(body["tags"])).map(([k, v]) => [k, String(v)])),
    osType: str(obj(storage["osDisk"])["osType"]),
    imageReference,
    vmSize: str(obj(p["hardwareProfile"])["vmSize"]),
    provisioningState: str(p["provisioningState"]),
    powerState: power?.slice("PowerState/".length),
    agentOsName: str(iv["osName"]),
    agentOsVersion: str(iv["osVersion"]),
    identity: defined({
      type: identityType(str(identity["type"])),
      principalId: str(identity["principalId"]),
      tenantId: str(identity["tenantId"]),
      userAssignedIdentityIds: Object.keys(obj(identity["userAssignedIdentities"])),
    }),
    extensions: [...extensions.values()],
    etag: str(body["etag"]),
  });
}

/** A role assignment body (`RoleAssignments_Get` / list item) → ObservedAssignment. */
export function observedAssignmentFromArmJson(body: Json): ObservedAssignment {
  const p = obj(body["properties"]);
  return defined({
    id: str(body["id"]) ?? "",
    name: str(body["name"]) ?? "",
    scope: str(p["scope"]) ?? "",
    roleDefinitionId: str(p["roleDefinitionId"]) ?? "",
    principalId: str(p["principalId"]) ?? "",
    principalType: str(p["principalType"]),
    description: str(p["description"]),
  });
}
