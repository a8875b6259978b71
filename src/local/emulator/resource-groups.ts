import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, notFound } from "./errors.js";
import { isObject } from "./http-io.js";
import type { ResourceGroupRecord, SubscriptionRecord } from "./state.js";

export function requireSubscription(ctx: HandlerContext, subscriptionId: string): SubscriptionRecord {
  const sub = ctx.state.subscription(subscriptionId);
  if (!sub) throw notFound("SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
  return sub;
}

export function requireResourceGroup(ctx: HandlerContext, subscriptionId: string, rg: string): ResourceGroupRecord {
  requireSubscription(ctx, subscriptionId);
  const group = ctx.state.resourceGroup(subscriptionId, rg);
  if (!group) throw notFound("ResourceGroupNotFound", `Resource group '${rg}' could not be found.`);
  return group;
}

export const resourceGroupId = (g: ResourceGroupRecord): string => `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}`;

export function renderResourceGroup(g: ResourceGroupRecord): Record<string, unknown> {
  return {
    id: resourceGroupId(g),
    name: g.name,
    type: "Microsoft.Resources/resourceGroups",
    location: g.location,
    ...(Object.keys(g.tags).length > 0 ? { tags: { ...g.tags } } : {}),
    properties: { provisioningState: "Succeeded" },
  };
}

export function getResourceGroup(ctx: HandlerContext, _req: ArmRequest, sub: string, rg: string): ArmResponse {
  return { status: 200, body: renderResourceGroup(requireResourceGroup(ctx, sub, rg)) };
}

export function putResourceGroup(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string): ArmResponse {
  requireSubscription(ctx, sub);
  if (!isObject(req.body)) throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: a JSON object is required.");
  const location = req.body["location"];
  if (typeof location !== "string" || location === "") throw badRequest("LocationRequired", "The location property is required for this definition.");
  if (!/^[-\w._()]{1,90}$/.test(rg) || rg.endsWith(".")) {
    throw badRequest("InvalidResourceGroup", `The provided resource group name '${rg}' has these invalid characters or is too long.`);
  }
  const existing = ctx.state.resourceGroup(sub, rg);
  const tags = isObject(req.body["tags"]) ? (req.body["tags"] as Record<string, string>) : {};
  const record: ResourceGroupRecord = { subscriptionId: existing?.subscriptionId ?? sub, name: existing?.name ?? rg, location: existing?.location ?? location, tags };
  ctx.state.putResourceGroup(record);
  ctx.emit({ kind: "Write", resourceUri: resourceGroupId(record), operationName: "Microsoft.Resources/subscriptions/resourceGroups/write", subscriptionId: sub });
  return { status: existing ? 200 : 201, body: renderResourceGroup(record) };
}

/** Deleting a group deletes what is in it; ARM does this as an LRO, the emulator at once (202 without polling). */
export function deleteResourceGroup(ctx: HandlerContext, _req: ArmRequest, sub: string, rg: string): ArmResponse {
  requireSubscription(ctx, sub);
  const group = ctx.state.resourceGroup(sub, rg);
  if (!group) return { status: 404, body: notFound("ResourceGroupNotFound", `Resource group '${rg}' could not be found.`).toBody() };
  ctx.state.deleteResourceGroup(sub, rg);
  ctx.emit({ kind: "Delete", resourceUri: resourceGroupId(group), operationName: "Microsoft.Resources/subscriptions/resourceGroups/delete", subscriptionId: sub });
  return { status: 200 };
}
