import { acceptLro } from "./compute-lro.js";
import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { ArmError, badRequest, notFound } from "./errors.js";
import { extensionOutcome } from "./extension-outcome.js";
import { isObject, type Json } from "./http-io.js";
import { mergePatch } from "./merge-patch.js";
import { requireResourceGroup } from "./resource-groups.js";
import type { ExtensionRecord, VmRecord } from "./state.js";
import { VM_TYPE, vmResourceId } from "./virtual-machines.js";

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
 * Accepts the write and, when it settles, asks the simulated agent for the outcome. A failure leaves the
 * extension and the VM `Failed` (as Azure does) and ends the LRO with VMExtensionProvisioningError.
 */
function startExtensionWrite(ctx: HandlerContext, req: ArmRequest, vm: VmRecord, ext: ExtensionRecord): Record<string, string> {
  vm.provisioningState = "Updating";
  const fail = (error: ArmError): void => {
    ext.provisioningState = "Failed";
    vm.provisioningState = "Failed";
    vm.failure = { code: error.code, message: error.message };
  };
  const { headers } = acceptLro(ctx, req, {
    subscriptionId: vm.subscriptionId,
    location: String(vm.model["location"] ?? ext.location),
    resourceKey: extensionResourceId(vm, ext),
    complete: () => {
      const outcome = extensionOutcome(vm, ext, new Date(ctx.now()).toISOString());
      if (outcome.instanceView) ext.instanceView = outcome.instanceView;
      else delete ext.instanceView;
      if (outcome.error) {
        fail(outcome.error);
        return outcome.error;
      }
      ext.provisioningState = "Succeeded";
      vm.provisioningState = "Succeeded";
      delete vm.failure;
      return undefined;
    },
    failEffect: fail,
    result: () => renderExtension(vm, ext, false),
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
  ctx.lro.settleResource(vmResourceId(vm), ctx.now());
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
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const ext = vm.extensions.get(name.toLowerCase());
  if (!ext) {
    throw notFound("NotFound", `The Resource '${VM_TYPE}/${vm.name}/extensions/${name}' under resource group '${rg}' was not found.`);
  }
  return { status: 200, body: renderExtension(vm, ext, (req.query.get("$expand") ?? "").toLowerCase() === "instanceview") };
}

/** Not pageable in the spec: one `{value}` document. */
export function listExtensions(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string): ArmResponse {
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const expand = (req.query.get("$expand") ?? "").toLowerCase() === "instanceview";
  return { status: 200, body: { value: [...vm.extensions.values()].map((x) => renderExtension(vm, x, expand)) } };
}

export function deleteExtension(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, vmName: string, name: string): ArmResponse {
  const vm = requireParentVm(ctx, sub, rg, vmName);
  const ext = vm.extensions.get(name.toLowerCase());
  if (!ext) return { status: 204 };
  requireRunning(vm);
  ctx.lro.settleResource(vmResourceId(vm), ctx.now());
  ext.provisioningState = "Deleting";
  const { headers } = acceptLro(ctx, req, {
    subscriptionId: vm.subscriptionId,
    location: String(vm.model["location"] ?? ext.location),
    resourceKey: extensionResourceId(vm, ext),
    complete: () => {
      vm.extensions.delete(name.toLowerCase());
      if (vm.provisioningState === "Failed" && ![...vm.extensions.values()].some((x) => x.provisioningState === "Failed")) {
        vm.provisioningState = "Succeeded";
        delete vm.failure;
      }
      return undefined;
    },
  });
  ctx.emit({ kind: "Delete", resourceUri: extensionResourceId(vm, ext), operationName: `${EXTENSION_TYPE}/delete`, subscriptionId: vm.subscriptionId });
  return { status: 202, headers };
}
