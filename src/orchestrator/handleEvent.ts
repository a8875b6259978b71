import { routeEvent } from "./eventRoute.js";
import type { ReconcileDeps } from "./reconcile.js";
import type { ResourceEvent } from "./ports.js";

export type EventOutcome =
  | { readonly handled: "queued"; readonly vmId: string }
  | { readonly handled: "ignored"; readonly reason: string };

/**
 * One Event Grid delivery, already parsed by the function layer. It routes the event and queues a
 * reconcile request, then answers: no ARM call happens here, because Event Grid gives a webhook
 * 30 s and a pass can take minutes. Redeliveries queue again and are never dropped: a second
 * request for a VM costs one cheap pass (the lease serializes them, the pass is idempotent), while
 * dropping one whose first pass had not finished would lose it.
 */
export async function handleResourceEvent(event: ResourceEvent, deps: Pick<ReconcileDeps, "config" | "queue" | "store" | "clock">): Promise<EventOutcome> {
  const route = routeEvent(event, { ownPrincipalIds: deps.config.ownPrincipalIds, watchedSubscriptions: deps.config.watchedSubscriptions });
  if (route.kind === "ignore") return { handled: "ignored", reason: route.reason };
  const requestedBy = requester(event);
  await deps.queue.send({
    vmId: route.vmId,
    trigger: "event",
    eventId: event.id,
    ...(event.correlationId ? { correlationId: event.correlationId } : {}),
    ...(requestedBy ? { requestedBy } : {}),
  });
  return { handled: "queued", vmId: route.vmId };
}

/** A malformed event is recorded and dropped: a retry cannot fix it, and Event Grid would redeliver it 30 times. */
export async function recordMalformedEvent(raw: unknown, problem: string, deps: Pick<ReconcileDeps, "store" | "clock">): Promise<void> {
  await deps.store.appendLog({ kind: "error", trigger: "event", reason: "malformed-event", message: problem, details: raw, at: deps.clock().toISOString() });
}

function requester(event: ResourceEvent): string | undefined {
  if (event.callerObjectId && event.callerUpn) return `${event.callerUpn} (${event.callerObjectId})`;
  return event.callerObjectId ?? event.callerUpn ?? event.callerAppId;
}
