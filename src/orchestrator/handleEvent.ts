import { createHash } from "node:crypto";
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
  // Ids and claims are whatever the sender wrote: bounded here, so no length or alphabet can make
  // the queue message, a log row or a table key fail (and Event Grid redeliver it 30 times).
  const correlationId = event.correlationId ? boundedId(event.correlationId) : undefined;
  await deps.queue.send({
    vmId: route.vmId,
    trigger: "event",
    eventId: boundedId(event.id),
    ...(correlationId ? { correlationId } : {}),
    ...(requestedBy ? { requestedBy: clip(requestedBy, 256) } : {}),
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

/** Longest id kept as sent; it is also safe as a Table Storage key (no / \\ # ? or control characters, far below 1 KiB). */
const MAX_PLAIN_ID = 128;

/**
 * An event id (or correlation id) as the enforcer keeps it: as sent when it is short and plain
 * (GUIDs, as Azure sends them), else `sha256:` and the hex digest of its UTF-8, so any length and
 * alphabet become 71 safe characters. Wherever an id becomes a key, it is this form.
 */
export function boundedId(id: string): string {
  if (id.length <= MAX_PLAIN_ID && /^[A-Za-z0-9._:-]+$/.test(id)) return id;
  return `sha256:${createHash("sha256").update(id, "utf8").digest("hex")}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
