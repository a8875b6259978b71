import { acceptLro, guardVmWrite, operationHeaders } from "./compute-lro.js";
import { header, type ArmRequest, type ArmResponse, type HandlerContext } from "./context.js";
import { ArmError, badRequest, resourceNotFound } from "./errors.js";
import { isObject, type Json } from "./http-io.js";
import { mergePatch } from "./merge-patch.js";
import { guestOsFor, osTypeOf } from "./os-catalog.js";
import { page } from "./paging.js";
import { requireResourceGroup, requireSubscription } from "./resource-groups.js";
import { vmKey, type PowerState, type VmRecord } from "./state.js";
import { renderExtension, extensionInstanceViews } from "./vm-extensions.js";
import { applyIdentity } from "./vm-identity.js";

export const VM_TYPE = "Microsoft.Compute/virtualMachines";
const COMPUTED_TOP_LEVEL = new Set(["id", "name", "type", "etag", "properties", "identity", "resources"]);
const VM_AGENT_VERSION = "2.7.41491.1102";

export const vmResourceId = (vm: VmRecord): string =>
  `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/${VM_TYPE}/${vm.name}`;

const etagOf = (vm: VmRecord): string => `"${vm.etagVersion}"`;

export function requireVm(ctx: HandlerContext, sub: string, rg: string, name: string): VmRecord {
  requireResourceGroup(ctx, sub, rg);
  const vm = ctx.state.vm(sub, rg, name);
  if (!vm) throw resourceNotFound(VM_TYPE, name, rg);
  return vm;
}

/** Read-only and secret properties never come back: Compute drops `adminPassword` and only returns userData on `$expand=userData`. */
function publicProperties(vm: VmRecord, expand: string): Json {
  const props = structuredClone(vm.properties);
  const osProfile = props["osProfile"];
  if (isObject(osProfile)) delete osProfile["adminPassword"];
  if (expand !== "userdata") delete props["userData"];
  return props;
}

export function renderVm(ctx: HandlerContext, vm: VmRecord, expand = ""): Json {
  const e = expand.toLowerCase();
  const body: Json = {
    name: vm.name,
    id: vmResourceId(vm),
    type: VM_TYPE,
    ...structuredClone(vm.model),
    etag: etagOf(vm),
    properties: {
      ...publicProperties(vm, e),
      vmId: vm.vmId,
      provisioningState: vm.provisioningState,
      timeCreated: vm.timeCreated,
      ...(e === "instanceview" ? { instanceView: instanceView(ctx, vm) } : {}),
    },
  };
  if (vm.extensions.size > 0) body["resources"] = [...vm.extensions.values()].map((x) => renderExtension(vm, x, false));
  return body;
}

const POWER_DISPLAY: Record<PowerState, string> = { running: "VM running", deallocated: "VM deallocated", stopped: "VM stopped" };

function provisioningStatus(vm: VmRecord, time: string): Json {
  switch (vm.provisioningState) {
    case "Succeeded":
      return { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded", time };
    case "Failed":
      return {
        code: `ProvisioningState/failed/${vm.failure?.code ?? "InternalExecutionError"}`,
        level: "Error",
        displayStatus: "Provisioning failed",
        message: vm.failure?.message ?? "",
        time,
      };
    default:
      return { code: `ProvisioningState/${vm.provisioningState.toLowerCase()}`, level: "Info", displayStatus: vm.provisioningState };
  }
}

function powerStatus(vm: VmRecord): Json {
  if (vm.powerTransition) return { code: `PowerState/${vm.powerTransition}`, level: "Info", displayStatus: `VM ${vm.powerTransition}` };
  return { code: `PowerState/${vm.simulation.powerState}`, level: "Info", displayStatus: POWER_DISPLAY[vm.simulation.powerState] };
}

/**
 * The VM instance view. A VM that is not running reports no guest data (no `vmAgent`, `osName`,
 * `osVersion`), exactly what the real one looks like when deallocated; a running VM without a working
 * agent reports the agent as "Not Ready".
 */
export function instanceView(ctx: HandlerContext, vm: VmRecord): Json {
  const time = new Date(ctx.now()).toISOString();
  const running = vm.simulation.powerState === "running";
  const view: Json = { platformUpdateDomain: 0, platformFaultDomain: 0 };
  const storage = vm.properties["storageProfile"];
  const osDisk = isObject(storage) && isObject(storage["osDisk"]) ? storage["osDisk"] : {};
  const osProfile = vm.properties["osProfile"];
  if (running && vm.simulation.agent !== null) {
    const guest = vm.simulation.agent ?? guestOsFor(vm.properties);
    view["computerName"] = isObject(osProfile) && typeof osProfile["computerName"] === "string" ? osProfile["computerName"] : vm.name;
    view["osName"] = guest.osName;
    view["osVersion"] = guest.osVersion;
    view["vmAgent"] = {
      vmAgentVersion: VM_AGENT_VERSION,
      statuses: [
        { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Ready", message: "GuestAgent is running and processing the extensions.", time },
      ],
      extensionHandlers: [...vm.extensions.values()].map((x) => ({
        type: `${String(x.properties["publisher"] ?? "")}.${String(x.properties["type"] ?? "")}`,
        typeHandlerVersion: String(x.properties["typeHandlerVersion"] ?? ""),
        status: { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Ready" },
      })),
    };
  } else if (running) {
    view["vmAgent"] = {
      vmAgentVersion: "Unknown",
      statuses: [{ code: "ProvisioningState/Unavailable", level: "Warning", displayStatus: "Not Ready", message: "VM Agent is unresponsive.", time }],
    };
  }
  view["hyperVGeneration"] = "V1";
  view["disks"] = [
    {
      name: typeof osDisk["name"] === "string" ? osDisk["name"] : `${vm.name}_OsDisk_1`,
      statuses: [{ code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded", time: vm.timeCreated }],
    },
  ];
  const extensions = extensionInstanceViews(vm);
  if (extensions.length > 0) view["extensions"] = extensions;
  view["isVMInStandbyPool"] = false;
  view["statuses"] = [provisioningStatus(vm, time), powerStatus(vm)];
  return view;
}

/** Fills what Compute adds to a stored model: the OS type, empty data disks, the OS configuration defaults. */
function withComputedDefaults(properties: Json): Json {
  const props = structuredClone(properties);
  const osType = osTypeOf(props);
  const storage = isObject(props["storageProfile"]) ? props["storageProfile"] : (props["storageProfile"] = {});
  const osDisk = isObject(storage["osDisk"]) ? storage["osDisk"] : (storage["osDisk"] = {});
  osDisk["osType"] ??= osType;
  storage["dataDisks"] ??= [];
  if (isObject(props["osProfile"])) {
    const osProfile = props["osProfile"];
    osProfile["secrets"] ??= [];
    if (osType === "Windows") osProfile["windowsConfiguration"] = { provisionVMAgent: true, enableAutomaticUpdates: true, ...(isObject(osProfile["windowsConfiguration"]) ? osProfile["windowsConfiguration"] : {}) };
    else osProfile["linuxConfiguration"] = { disablePasswordAuthentication: false, provisionVMAgent: true, ...(isObject(osProfile["linuxConfiguration"]) ? osProfile["linuxConfiguration"] : {}) };
  }
  return props;
}

function checkPreconditions(req: ArmRequest, existing: VmRecord | undefined): void {
  const ifNoneMatch = header(req, "if-none-match");
  const ifMatch = header(req, "if-match");
  if (ifNoneMatch === "*" && existing) {
    throw new ArmError(412, "PreconditionFailed", "The resource already exists and the request specified 'If-None-Match: *'.");
  }
  if (ifMatch !== undefined && ifMatch !== "*") {
    if (!existing || ifMatch !== etagOf(existing)) {
      throw new ArmError(412, "PreconditionFailed", `The specified precondition 'If-Match = ${ifMatch}' failed.`);
    }
  }
  if (ifMatch === "*" && !existing) throw new ArmError(412, "PreconditionFailed", "The specified precondition 'If-Match = *' failed: the resource does not exist.");
}

function requireBody(req: ArmRequest): Json {
  if (!isObject(req.body)) {
    throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: the body must be a JSON object.");
  }
  if (req.body["properties"] !== undefined && !isObject(req.body["properties"])) {
    throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'properties' must be a JSON object.");
  }
  if (req.body["tags"] !== undefined && !isObject(req.body["tags"])) {
    throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'tags' must be a JSON object.");
  }
  return req.body;
}

export const vmTarget = (vm: VmRecord): { subscriptionId: string; resourceGroup: string; vmName: string } => ({
  subscriptionId: vm.subscriptionId,
  resourceGroup: vm.resourceGroup,
  vmName: vm.name,
});

function startVmWrite(ctx: HandlerContext, req: ArmRequest, vm: VmRecord, kind: "vm-create" | "vm-update"): Record<string, string> {
  const { headers } = acceptLro(ctx, req, { kind, target: vmTarget(vm), location: String(vm.model["location"] ?? ""), resourceKey: vmResourceId(vm) });
  return headers;
}

export function putVm(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string): ArmResponse {
  const group = requireResourceGroup(ctx, sub, rg);
  const body = requireBody(req);
  const existing = ctx.state.vm(sub, rg, name);
  checkPreconditions(req, existing);
  const location = body["location"];
  if (!existing && (typeof location !== "string" || location === "")) {
    throw badRequest("LocationRequired", "The location property is required for this definition.");
  }
  if (!/^[-\w.]{1,64}$/.test(name)) throw badRequest("InvalidParameter", `The VM name '${name}' is invalid.`);
  const now = ctx.now();
  if (existing) guardVmWrite(ctx, existing, "PUT");
  const model: Json = {};
  for (const [k, v] of Object.entries(body)) if (!COMPUTED_TOP_LEVEL.has(k)) model[k] = structuredClone(v);
  if (existing) model["location"] = existing.model["location"];
  const identity = applyIdentity(ctx.state, name, existing?.model["identity"] as Json | undefined, body["identity"], "put", now);
  if (identity) model["identity"] = identity;
  const properties = withComputedDefaults(isObject(body["properties"]) ? body["properties"] : {});
  const vm: VmRecord = existing ?? {
    subscriptionId: group.subscriptionId,
    resourceGroup: group.name,
    name,
    model,
    properties,
    provisioningState: "Creating",
    etagVersion: 0,
    vmId: ctx.state.newGuid(),
    timeCreated: new Date(now).toISOString(),
    simulation: {
      powerState: "running",
      agent: undefined,
      outboundNetwork: true,
      ...ctx.state.takePendingSimulation(`/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Compute/virtualMachines/${name}`),
    },
    extensions: new Map(),
  };
  vm.model = model;
  vm.properties = properties;
  vm.provisioningState = existing ? "Updating" : "Creating";
  vm.etagVersion += 1;
  ctx.state.putVm(vm);
  const headers = startVmWrite(ctx, req, vm, existing ? "vm-update" : "vm-create");
  ctx.emit({ kind: "Write", resourceUri: vmResourceId(vm), operationName: `${VM_TYPE}/write`, subscriptionId: vm.subscriptionId });
  return { status: existing ? 200 : 201, body: renderVm(ctx, vm), headers };
}

export function patchVm(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string): ArmResponse {
  const vm = requireVm(ctx, sub, rg, name);
  const body = requireBody(req);
  checkPreconditions(req, vm);
  const now = ctx.now();
  guardVmWrite(ctx, vm, "PATCH");
  const identity = applyIdentity(ctx.state, vm.name, vm.model["identity"] as Json | undefined, body["identity"], "patch", now);
  const model: Json = { ...vm.model };
  if (identity) model["identity"] = identity;
  else delete model["identity"];
  // ARM PATCH replaces the whole tag set when `tags` is present.
  if (isObject(body["tags"])) model["tags"] = structuredClone(body["tags"]);
  for (const k of ["zones", "plan"]) if (body[k] !== undefined) model[k] = structuredClone(body[k]);
  vm.model = model;
  if (isObject(body["properties"])) vm.properties = withComputedDefaults(mergePatch(vm.properties, body["properties"]));
  vm.provisioningState = "Updating";
  vm.etagVersion += 1;
  const headers = startVmWrite(ctx, req, vm, "vm-update");
  ctx.emit({ kind: "Write", resourceUri: vmResourceId(vm), operationName: `${VM_TYPE}/write`, subscriptionId: vm.subscriptionId });
  return { status: 200, body: renderVm(ctx, vm), headers };
}

/** Compute's per-VM and per-subscription read throttle for a single-VM read (GET, instance view, extensions). */
export const vmReadThrottle = (ctx: HandlerContext, sub: string, rg: string, name: string): Record<string, string> =>
  ctx.computeThrottle.take("vm-read", sub, vmKey(sub, rg, name), ctx.now());

export function getVm(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string): ArmResponse {
  const headers = vmReadThrottle(ctx, sub, rg, name);
  const vm = requireVm(ctx, sub, rg, name);
  return { status: 200, body: renderVm(ctx, vm, req.query.get("$expand") ?? ""), headers };
}

export function getInstanceView(ctx: HandlerContext, _req: ArmRequest, sub: string, rg: string, name: string): ArmResponse {
  const headers = vmReadThrottle(ctx, sub, rg, name);
  return { status: 200, body: instanceView(ctx, requireVm(ctx, sub, rg, name)), headers };
}

/** The scale set a list's `$filter` names: `virtualMachineScaleSet/id eq '<id>'` is the only filter Compute documents. */
function scaleSetFilter(filter: string | null): string | undefined {
  if (filter === null) return undefined;
  const m = /^\s*'?virtualMachineScaleSet\/id'?\s+eq\s+'?([^']+?)'?\s*$/i.exec(filter);
  if (!m?.[1]) {
    throw badRequest(
      "InvalidParameter",
      `The $filter '${filter}' is not supported. The only filter is virtualMachineScaleSet/id eq '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}'.`,
    );
  }
  return m[1];
}

/**
 * `statusOnly=true` (subscription lists): each VM's run-time status only, no model (so no tags) and no
 * guest OS; our reading of the spec ("enables fetching run time status of all Virtual Machines").
 */
function renderVmStatus(ctx: HandlerContext, vm: VmRecord): Json {
  const view = instanceView(ctx, vm);
  return {
    name: vm.name,
    id: vmResourceId(vm),
    type: VM_TYPE,
    location: vm.model["location"],
    properties: { instanceView: { hyperVGeneration: view["hyperVGeneration"], statuses: view["statuses"] } },
  };
}

/**
 * Lists a subscription's or a resource group's VMs. `$expand=instanceView` is refused without a scale-set
 * `$filter`, as Compute does (the spec: "this can only be specified if a valid $filter option is
 * specified"; Azure answers "Expand Instance View is only supported when Virtual Machine Scale Set resource
 * filter is applied").
 */
export function listVms(ctx: HandlerContext, req: ArmRequest, sub: string, rg?: string): ArmResponse {
  const headers = ctx.computeThrottle.take("vm-list", sub, undefined, ctx.now());
  if (rg === undefined) requireSubscription(ctx, sub);
  else requireResourceGroup(ctx, sub, rg);
  const expand = req.query.get("$expand") ?? "";
  const scaleSet = scaleSetFilter(req.query.get("$filter"));
  if (expand.toLowerCase() === "instanceview" && scaleSet === undefined) {
    throw badRequest("BadRequest", "Expand Instance View is only supported when Virtual Machine Scale Set resource filter is applied");
  }
  const statusOnly = rg === undefined && (req.query.get("statusOnly") ?? "").toLowerCase() === "true";
  const vms = [...ctx.state.vms.values()]
    .filter((vm) => vm.subscriptionId.toLowerCase() === sub.toLowerCase() && (rg === undefined || vm.resourceGroup.toLowerCase() === rg.toLowerCase()))
    .filter((vm) => {
      if (scaleSet === undefined) return true;
      const ref = vm.properties["virtualMachineScaleSet"];
      return isObject(ref) && String(ref["id"] ?? "").toLowerCase() === scaleSet.toLowerCase();
    })
    .sort((a, b) => vmResourceId(a).localeCompare(vmResourceId(b)));
  return { status: 200, body: page(ctx, req, vms.map((vm) => (statusOnly ? renderVmStatus(ctx, vm) : renderVm(ctx, vm, expand)))), headers };
}

export function deleteVm(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string): ArmResponse {
  requireResourceGroup(ctx, sub, rg);
  const vm = ctx.state.vm(sub, rg, name);
  if (!vm) return { status: 204 };
  if (ctx.timing.realistic) {
    // A DELETE goes through whatever runs on the VM: a delete in progress answers for it, anything else is preempted.
    const running = ctx.lro.inFlightOn(vmResourceId(vm));
    const deleting = running.find((op) => op.kind === "vm-delete");
    if (deleting) {
      ctx.emit({ kind: "Delete", resourceUri: vmResourceId(vm), operationName: `${VM_TYPE}/delete`, subscriptionId: vm.subscriptionId });
      return { status: 202, headers: operationHeaders(ctx, req, deleting) };
    }
    for (const op of running) ctx.lro.preempt(op, ctx.now());
    delete vm.powerTransition;
  } else {
    ctx.lro.settleResource(vmResourceId(vm), ctx.now());
  }
  vm.provisioningState = "Deleting";
  const { headers } = acceptLro(ctx, req, { kind: "vm-delete", target: vmTarget(vm), location: String(vm.model["location"] ?? ""), resourceKey: vmResourceId(vm) });
  ctx.emit({ kind: "Delete", resourceUri: vmResourceId(vm), operationName: `${VM_TYPE}/delete`, subscriptionId: vm.subscriptionId });
  return { status: 202, headers };
}

const POWER_ACTIONS: Record<string, PowerState> = { start: "running", restart: "running", deallocate: "deallocated", poweroff: "stopped" };
const POWER_TRANSITIONS: Record<string, string> = { start: "starting", restart: "starting", deallocate: "deallocating", poweroff: "stopping" };

export const VM_ACTIONS = Object.keys(POWER_ACTIONS);

/** POST start / restart / deallocate / powerOff: 202 + LRO; the power state changes when it settles. */
export function vmAction(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string, action: string): ArmResponse {
  const vm = requireVm(ctx, sub, rg, name);
  const target = POWER_ACTIONS[action.toLowerCase()];
  if (!target) throw badRequest("InvalidParameter", `The action '${action}' is not supported.`);
  if (action.toLowerCase() === "restart" && vm.simulation.powerState !== "running") {
    throw new ArmError(409, "OperationNotAllowed", `Operation 'restart' is not allowed on VM '${vm.name}' since the VM is ${vm.simulation.powerState === "deallocated" ? "deallocated" : "stopped"}.`);
  }
  const canonical = { start: "start", restart: "restart", deallocate: "deallocate", poweroff: "powerOff" }[action.toLowerCase()] ?? action;
  guardVmWrite(ctx, vm, canonical);
  // Realistic: the VM reads Updating, its power state starting / stopping / deallocating, until the action settles.
  const realistic = ctx.timing.realistic;
  if (realistic) {
    vm.provisioningState = "Updating";
    vm.powerTransition = POWER_TRANSITIONS[action.toLowerCase()] ?? "updating";
  }
  const { headers } = acceptLro(ctx, req, {
    kind: "vm-power",
    target: vmTarget(vm),
    location: String(vm.model["location"] ?? ""),
    resourceKey: vmResourceId(vm),
    args: { powerState: target, ...(realistic ? { vmUpdating: true } : {}) },
  });
  ctx.emit({ kind: "Action", resourceUri: vmResourceId(vm), operationName: `${VM_TYPE}/${canonical}/action`, subscriptionId: vm.subscriptionId });
  return { status: 202, headers };
}
