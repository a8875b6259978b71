import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, notFound } from "./errors.js";
import { isObject, type Json } from "./http-io.js";
import { requireResourceGroup, requireSubscription } from "./resource-groups.js";
import { normalizeScope } from "./scope.js";
import { requireVm, vmResourceId } from "./virtual-machines.js";

type Tags = Record<string, string>;

interface TagTarget {
  readonly scope: string;
  readonly subscriptionId: string;
  get(): Tags;
  set(tags: Tags): void;
}

/** The scopes whose tags the emulator holds: subscriptions, resource groups and VMs. */
function resolveTarget(ctx: HandlerContext, scope: string): TagTarget {
  const s = normalizeScope(scope);
  const m = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+)(?:\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+))?)?$/i.exec(s);
  if (!m?.[1]) throw notFound("ResourceNotFound", `The tags scope '${s}' is not a resource the emulator holds (subscriptions, resource groups, virtual machines).`);
  const [, sub, rg, vmName] = m;
  if (rg && vmName) {
    const vm = requireVm(ctx, sub, rg, vmName);
    return {
      scope: vmResourceId(vm),
      subscriptionId: vm.subscriptionId,
      get: () => ({ ...((vm.model["tags"] as Tags | undefined) ?? {}) }),
      set: (tags) => {
        vm.model["tags"] = tags;
        vm.etagVersion += 1;
      },
    };
  }
  if (rg) {
    const group = requireResourceGroup(ctx, sub, rg);
    return { scope: `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`, subscriptionId: sub, get: () => ({ ...group.tags }), set: (t) => (group.tags = t) };
  }
  const record = requireSubscription(ctx, sub);
  return { scope: `/subscriptions/${record.subscriptionId}`, subscriptionId: sub, get: () => ({ ...record.tags }), set: (t) => (record.tags = t) };
}

const render = (target: TagTarget): Json => ({
  id: `${target.scope}/providers/Microsoft.Resources/tags/default`,
  name: "default",
  type: "Microsoft.Resources/tags",
  properties: { tags: target.get() },
});

function tagsFrom(body: unknown): Tags {
  const props = isObject(body) ? body["properties"] : undefined;
  const tags = isObject(props) ? props["tags"] : undefined;
  if (!isObject(tags)) throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'properties.tags' must be a JSON object.");
  for (const [k, v] of Object.entries(tags)) {
    if (typeof v !== "string") throw badRequest("InvalidTagValue", `The value of tag '${k}' must be a string.`);
  }
  return tags as Tags;
}

export function getTags(ctx: HandlerContext, _req: ArmRequest, scope: string): ArmResponse {
  return { status: 200, body: render(resolveTarget(ctx, scope)) };
}

/** PUT replaces; PATCH `{operation: Merge|Replace|Delete}` (Delete removes the given keys, or key+value pairs). */
export function writeTags(ctx: HandlerContext, req: ArmRequest, scope: string, method: "PUT" | "PATCH"): ArmResponse {
  const target = resolveTarget(ctx, scope);
  const tags = tagsFrom(req.body);
  let next: Tags;
  if (method === "PUT") next = { ...tags };
  else {
    const operation = isObject(req.body) ? String(req.body["operation"] ?? "") : "";
    const current = target.get();
    switch (operation.toLowerCase()) {
      case "merge":
        next = { ...current, ...tags };
        break;
      case "replace":
        next = { ...tags };
        break;
      case "delete":
        next = Object.fromEntries(Object.entries(current).filter(([k, v]) => !(k in tags) || (tags[k] !== "" && tags[k] !== v)));
        break;
      default:
        throw badRequest("InvalidRequestContent", `The tags PATCH 'operation' must be 'Merge', 'Replace' or 'Delete', got '${operation}'.`);
    }
  }
  target.set(next);
  ctx.emit({ kind: "Write", resourceUri: `${target.scope}/providers/Microsoft.Resources/tags/default`, operationName: "Microsoft.Resources/tags/write", subscriptionId: target.subscriptionId });
  return { status: 200, body: render(target) };
}

export function deleteTags(ctx: HandlerContext, _req: ArmRequest, scope: string): ArmResponse {
  const target = resolveTarget(ctx, scope);
  target.set({});
  ctx.emit({ kind: "Delete", resourceUri: `${target.scope}/providers/Microsoft.Resources/tags/default`, operationName: "Microsoft.Resources/tags/delete", subscriptionId: target.subscriptionId });
  return { status: 200 };
}
