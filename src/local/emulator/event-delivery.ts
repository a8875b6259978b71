import { randomUUID } from "node:crypto";
import { badRequest } from "./errors.js";
import { isObject } from "./http-io.js";
import type { EventGridEvent } from "./resource-events.js";

export interface EventFilter {
  readonly subjectBeginsWith?: string;
  readonly subjectEndsWith?: string;
  readonly operationNames?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface EventSubscription {
  readonly id: string;
  readonly url: string;
  readonly filter: EventFilter;
}

export interface DeliveryOptions {
  /** Extra copies of every event (Event Grid is at-least-once). */
  duplicate: number;
  /** Deliver what is queued newest first (Event Grid does not guarantee order). */
  reorder: boolean;
  /** With reorder: how long a burst is collected before it goes out newest first. */
  reorderWindowMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  /**
   * Hold events (queued, not lost) until unpaused: Event Grid delivers seconds after the write, so a
   * user's multi-step change (a VM, then its extension) can land before the first event does.
   */
  paused: boolean;
}

export interface DeadLetter {
  readonly subscriptionId: string;
  readonly event: EventGridEvent;
  readonly attempts: number;
  readonly lastError: string;
}

/** Event Grid does not retry these: the event is dead-lettered at once. */
const NO_RETRY = new Set([400, 403, 413]);

export function matchesFilter(filter: EventFilter, event: EventGridEvent): boolean {
  const subject = event.subject.toLowerCase();
  if (filter.subjectBeginsWith && !subject.startsWith(filter.subjectBeginsWith.toLowerCase())) return false;
  if (filter.subjectEndsWith && !subject.endsWith(filter.subjectEndsWith.toLowerCase())) return false;
  if (filter.eventTypes?.length && !filter.eventTypes.some((t) => t.toLowerCase() === event.eventType.toLowerCase())) return false;
  const op = String(event.data["operationName"] ?? "").toLowerCase();
  if (filter.operationNames?.length && !filter.operationNames.some((o) => o.toLowerCase() === op)) return false;
  return true;
}

/**
 * Webhook delivery in the Event Grid schema: one event per POST (an array of one), header
 * `aeg-event-type: Notification`, retries with exponential backoff on non-2xx or connection errors,
 * then dead-letter. Each subscription has its own sequential queue, so delivery is in order unless
 * told to reorder.
 */
export class EventDelivery {
  private readonly subscriptions = new Map<string, EventSubscription>();
  private readonly queues = new Map<string, EventGridEvent[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly deadLetters: DeadLetter[] = [];
  private readonly abort = new AbortController();
  private closed = false;
  options: DeliveryOptions = { duplicate: 0, reorder: false, reorderWindowMs: 20, maxAttempts: 5, initialBackoffMs: 50, paused: false };

  setOptions(input: unknown): DeliveryOptions {
    if (!isObject(input)) throw badRequest("InvalidRequestContent", "Event delivery options must be a JSON object.");
    const next = { ...this.options };
    if (input["duplicate"] !== undefined) next.duplicate = Math.max(0, Math.floor(Number(input["duplicate"])));
    if (input["reorder"] !== undefined) next.reorder = input["reorder"] === true;
    if (input["paused"] !== undefined) next.paused = input["paused"] === true;
    if (input["maxAttempts"] !== undefined) next.maxAttempts = Math.max(1, Math.floor(Number(input["maxAttempts"])));
    if (input["reorderWindowMs"] !== undefined) next.reorderWindowMs = Math.max(0, Number(input["reorderWindowMs"]));
    if (input["initialBackoffMs"] !== undefined) next.initialBackoffMs = Math.max(0, Number(input["initialBackoffMs"]));
    if (Object.values(next).some((v) => typeof v === "number" && Number.isNaN(v))) throw badRequest("InvalidRequestContent", "Event delivery options must be numbers.");
    this.options = next;
    if (!next.paused) for (const sub of this.subscriptions.values()) if ((this.queues.get(sub.id)?.length ?? 0) > 0) this.kick(sub);
    return next;
  }

  /** Registers a webhook after the synchronous validation handshake, as Event Grid does. */
  async subscribe(url: string, filter: EventFilter = {}): Promise<EventSubscription> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequest("InvalidRequestContent", `The endpoint URL '${url}' is not a valid URL.`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw badRequest("InvalidRequestContent", `The endpoint URL '${url}' must be http or https.`);
    const id = randomUUID();
    const validationCode = randomUUID();
    const validation = [
      {
        id: randomUUID(),
        topic: "/subscriptions/00000000-0000-0000-0000-000000000000",
        subject: "",
        data: { validationCode, validationUrl: `https://localhost/eventsubscriptions/${id}/validate?id=${validationCode}` },
        eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
        eventTime: new Date().toISOString(),
        metadataVersion: "1",
        dataVersion: "1",
      },
    ];
    let answer: unknown;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "aeg-event-type": "SubscriptionValidation", "aeg-subscription-name": id.toUpperCase() },
        body: JSON.stringify(validation),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]),
      });
      if (res.status !== 200) throw new Error(`the endpoint answered HTTP ${res.status}; the handshake needs 200 with {"validationResponse": code}`);
      answer = await res.json();
    } catch (error) {
      throw badRequest("WebhookValidationFailed", `Webhook validation handshake failed for ${url}: ${(error as Error).message}.`);
    }
    if (!isObject(answer) || answer["validationResponse"] !== validationCode) {
      throw badRequest("WebhookValidationFailed", `Webhook validation handshake failed for ${url}: expected {"validationResponse": "${validationCode}"}, got ${JSON.stringify(answer)}.`);
    }
    const subscription: EventSubscription = { id, url, filter };
    this.subscriptions.set(id, subscription);
    this.queues.set(id, []);
    return subscription;
  }

  unsubscribe(id: string): boolean {
    this.queues.delete(id);
    return this.subscriptions.delete(id);
  }

  list(): EventSubscription[] {
    return [...this.subscriptions.values()];
  }

  deadLettered(): DeadLetter[] {
    return [...this.deadLetters];
  }

  publish(event: EventGridEvent): void {
    if (this.closed) return;
    for (const sub of this.subscriptions.values()) {
      if (!matchesFilter(sub.filter, event)) continue;
      const queue = this.queues.get(sub.id);
      if (!queue) continue;
      for (let i = 0; i <= this.options.duplicate; i++) queue.push(event);
      this.kick(sub);
    }
  }

  /** Resolves once every queue is empty and no delivery is in flight. */
  async idle(): Promise<void> {
    while (this.workers.size > 0) await Promise.allSettled([...this.workers.values()]);
  }

  reset(): void {
    this.subscriptions.clear();
    this.queues.clear();
    this.deadLetters.length = 0;
    this.options = { duplicate: 0, reorder: false, reorderWindowMs: 20, maxAttempts: 5, initialBackoffMs: 50, paused: false };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.queues.clear();
    await Promise.allSettled([...this.workers.values()]);
  }

  private kick(sub: EventSubscription): void {
    if (this.workers.has(sub.id) || this.options.paused) return;
    const worker = (async () => {
      // Let the current request (or, when reordering, a whole burst) finish queueing.
      if (this.options.reorder) await sleep(this.options.reorderWindowMs, this.abort.signal);
      else await new Promise((r) => setImmediate(r));
      for (;;) {
        const queue = this.queues.get(sub.id);
        if (!queue || queue.length === 0 || this.closed || this.options.paused) break;
        const batch = queue.splice(0, queue.length);
        if (this.options.reorder) batch.reverse();
        for (const event of batch) await this.deliver(sub, event);
      }
    })().finally(() => this.workers.delete(sub.id));
    this.workers.set(sub.id, worker);
  }

  private async deliver(sub: EventSubscription, event: EventGridEvent): Promise<void> {
    let lastError = "";
    for (let attempt = 0; attempt < this.options.maxAttempts && !this.closed; attempt++) {
      if (attempt > 0) await sleep(this.options.initialBackoffMs * 2 ** (attempt - 1), this.abort.signal);
      try {
        const res = await fetch(sub.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "aeg-event-type": "Notification",
            "aeg-subscription-name": sub.id.toUpperCase(),
            "aeg-delivery-count": String(attempt),
            "aeg-data-version": event.dataVersion,
            "aeg-metadata-version": event.metadataVersion,
          },
          body: JSON.stringify([event]),
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return;
        lastError = `HTTP ${res.status}`;
        if (NO_RETRY.has(res.status)) {
          this.deadLetters.push({ subscriptionId: sub.id, event, attempts: attempt + 1, lastError });
          return;
        }
      } catch (error) {
        if (this.closed) return;
        lastError = (error as Error).message;
      }
    }
    if (!this.closed) this.deadLetters.push({ subscriptionId: sub.id, event, attempts: this.options.maxAttempts, lastError });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
