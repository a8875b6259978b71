import { parseResourceEvent, type ResourceEvent } from "../azure/resourceEvent.js";
import { routeEvent } from "./eventRoute.js";
import { reconcile, type PassResult, type ReconcileDeps } from "./reconcile.js";

export type EventOutcome =
  | { readonly handled: "reconciled"; readonly result: PassResult }
  | { readonly handled: "ignored"; readonly reason: string }
  | { readonly handled: "duplicate" }
  | { readonly handled: "malformed"; readonly error: string };

/**
 * One Event Grid delivery. Malformed events are recorded and dropped (never rethrown: a retry
 * cannot fix them, and rethrowing would make Event Grid redeliver 30 times). Duplicates are
 * dropped by event id. A pass that throws releases the id and rethrows, so the redelivery works.
 */
export async function handleResourceEvent(raw: unknown, deps: ReconcileDeps): Promise<EventOutcome> {
  let event: ResourceEvent;
  try {
    event = await parseResourceEvent(raw);
  } catch (error) {
    const message = (error as Error).message;
    await deps.store.appendLog({ kind: "error", trigger: "event", reason: "malformed-event", message, details: raw, at: deps.clock().toISOString() });
    return { handled: "malformed", error: message };
  }
  const route = routeEvent(event, { ownPrincipalIds: deps.config.ownPrincipalIds, watchedSubscriptions: deps.config.watchedSubscriptions });
  if (route.kind === "ignore") return { handled: "ignored", reason: route.reason };

  if (!(await deps.store.claimEvent(event.id, { vmId: route.vmId, eventType: event.eventType, at: deps.clock().toISOString() }))) return { handled: "duplicate" };
  try {
    const result = await reconcile(
      {
        vmId: route.vmId,
        trigger: "event",
        eventId: event.id,
        ...(event.correlationId ? { correlationId: event.correlationId } : {}),
        ...(requester(event) ? { requestedBy: requester(event) } : {}),
      },
      deps,
    );
    return { handled: "reconciled", result };
  } catch (error) {
    // The pass did not finish (terminal ARM errors end a pass normally, so this is transient or
    // unexpected): give the id back, or Event Grid's redelivery would be dropped as a duplicate.
    await deps.store.releaseEvent(event.id);
    throw error;
  }
}

function requester(event: ResourceEvent): string | undefined {
  if (event.callerObjectId && event.callerUpn) return `${event.callerUpn} (${event.callerObjectId})`;
  return event.callerObjectId ?? event.callerUpn ?? event.callerAppId;
}
