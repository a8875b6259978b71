import { acceptLro, guardVmWrite } from "./compute-lro.js";
import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { ArmError, badRequest, notFound } from "./errors.js";
import { transitioningInstanceView } from "./extension-outcome.js";
import { isObject, type Json } from "./http-io.js";
import { mergePatch } from "./merge-patch.js";
import { requireResourceGroup } from "./resource-groups.js";
import type { ExtensionRecord, VmRecord } from "./state.js";
import { VM_TYPE, vmReadThrottle, vmResourceId, vmTarget } from "./virtual-machines.js";

export const EXTENSION_TYPE = "Microsoft.Compute/virtualMachines/extensions";

export const extensionResourceId = (vm: VmRecord, ext: ExtensionRecord): string => `${vmResourceId(vm)}/extensions/${ext.name}`;

/** Compute never returns protectedSettings (they are secrets); the instance view only on `$expand=instanceView`. */
export function renderExtension(vm: VmRecord, ext: ExtensionRecord, withInstanceView: boolean): Json {
  const properties: Json = { ...structuredClone(ext.properties), provisioningState: ext.provisioningState };
  delete properties["protectedSettings"];
  delete properties["instanceView"];
  if (withInstanceView && ext.instanceView) properties["instanceView"] = structuredClone(ext.instanceView);
  return {
    name: ext.name,
    id: extensionResourceId(vm, ext),
    type: EXTENSION_TYPE,
    location: ext.location,
    ...(ext.tags ? { tags: { ...ext.tags } } : {}),
    properties,
  };
}

export function extensionInstanceViews(vm: VmRecord): Json[] {
  return [...vm.extensions.values()].flatMap((x) => (x.instanceView ? [structuredClone(x.instanceView)] : []));
}

function requireParentVm(ctx: HandlerContext, sub: string, rg: string, vmName: string): VmRecord {
  requireResourceGroup(ctx, sub, rg);
  const vm = ctx.state.vm(sub, rg, vmName);
  if (!vm) {
    throw notFound("ParentResourceNotFound", `Can not perform requested operation on nested resource. Parent resource '${vmName}' not found.`);
  }
  return vm;
}

function requireRunning(vm: VmRecord): void {
  if (vm.simulation.powerState !== "running") {
    throw new ArmError(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.");
  }
}

/**
 * Accepts the write; when it settles, the simulated agent decides the outcome (operation-effects.ts).
 * A failure leaves the extension and the VM `Failed` (as Azure does) and ends the LRO with
 * VMExtensionProvisioningError. Realistic timing: meanwhile the agent reports the handler as transitioning.
 */
function startExtensionWrite(ctx: HandlerContext, req: ArmRequest, vm: VmRecord, ext: ExtensionRecord): Record<string, string> {
  vm.provisioningState = "Updating";
  if (ctx.timing.realistic) ext.instanceView = transitioningInstanceView(ext, new Date(ctx.now()).toISOString());
  const { headers } = acceptLro(ctx, req, {
    kind: "extension-put",
    target: { ...vmTarget(vm), extensionName: ext.name },
    location: String(vm.model["location"] ?? ext.location),
    resourceKey: extensionResourceId(vm, ext),
  });
  return headers;
}

export function putExtension(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string, name: string, mode: "put" | "patch"): ArmResponse {
  const vm = requireParentVm(ctx, sub, rg, vmName);
  if (!isObject(req.body)) throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: the body must be a JSON object.");
  const body = req.body;
  const props = body["properties"];
  if (!isObject(props)) throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'properties' must be a JSON object.");
  const existing = vm.extensions.get(name.toLowerCase());
  if (mode === "patch" && !existing) throw notFound("NotFound", `The entity '${name}' was not found in the extensions of VM '${vm.name}'.`);
  const merged = existing && mode === "patch" ? mergePatch(existing.properties, props) : structuredClone(props);
  for (const required of ["publisher", "type", "typeHandlerVersion"]) {
    if (typeof merged[required] !== "string" || merged[required] === "") {
      throw badRequest("InvalidParameter", `Required parameter '${required}' is missing (null).`, );
    }
  }
  requireRunning(vm);
  guardVmWrite(ctx, vm, mode === "put" ? "PUT" : "PATCH");
  delete merged["provisioningState"];
  delete merged["instanceView"];
  const ext: ExtensionRecord = existing ?? { name, location: String(vm.model["location"] ?? ""), properties: merged, provisioningState: "Creating" };
  ext.properties = merged;
  if (isObject(body["tags"])) ext.tags = structuredClone(body["tags"]) as Record<string, string>;
  if (typeof body["location"] === "string" && !existing) ext.location = body["location"];
  ext.provisioningState = existing ? "Updating" : "Creating";
  vm.extensions.set(name.toLowerCase(), ext);
  const headers = startExtensionWrite(ctx, req, vm, ext);
  ctx.emit({ kind: "Write", resourceUri: extensionResourceId(vm, ext), operationName: `${EXTENSION_TYPE}/write`, subscriptionId: vm.subscriptionId });
  return { status: existing ? 200 : 201, body: renderExtension(vm, ext, false), headers };
}

export function getExtension(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string, name: string): ArmResponse {
  const headers = vmReadThrottle(ctx, sub, rg, vmName);
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const ext = vm.extensions.get(name.toLowerCase());
  if (!ext) {
    throw notFound("NotFound", `The Resource '${VM_TYPE}/${vm.name}/extensions/${name}' under resource group '${rg}' was not found.`);
  }
  return { status: 200, body: renderExtension(vm, ext, (req.query.get("$expand") ?? "").toLowerCase() === "instanceview"), headers };
}

/** Not pageable in the spec: one `{value}` document. */
export function listExtensions(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string): ArmResponse {
  const headers = vmReadThrottle(ctx, sub, rg, vmName);
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const expand = (req.query.get("$expand") ?? "").toLowerCase() === "instanceview";
  return { status: 200, body: { value: [...vm.extensions.values()].map((x) => renderExtension(vm, x, expand)) }, headers };
}

export function deleteExtension(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string, name: string): ArmResponse {
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const ext = vm.extensions.get(name.toLowerCase());
  if (!ext) return { status: 204 };
  requireRunning(vm);
  guardVmWrite(ctx, vm, "DELETE");
  ext.provisioningState = "Deleting";
  // Realistic: removing an extension is a VM update; the VM reads Updating until it settles.
  const realistic = ctx.timing.realistic;
  if (realistic) vm.provisioningState = "Updating";
  const { headers } = acceptLro(ctx, req, {
    kind: "extension-delete",
    target: { ...vmTarget(vm), extensionName: ext.name },
    location: String(vm.model["location"] ?? ext.location),
    resourceKey: extensionResourceId(vm, ext),
    ...(realistic ? { args: { vmUpdating: true } } : {}),
  });
  ctx.emit({ kind: "Delete", resourceUri: extensionResourceId(vm, ext), operationName: `${EXTENSION_TYPE}/delete`, subscriptionId: vm.subscriptionId });
  return { status: 202, headers };
}
