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

/** One event on its way to one subscription: stays queued until the webhook acknowledged it or it is dead-lettered. */
export interface PendingDelivery {
  readonly event: EventGridEvent;
  /** When ARM accepted the write (the event's time to live counts from here). */
  readonly publishedAt: number;
  /** Attempts made so far (the next one's `aeg-delivery-count`). */
  attempts: number;
  /** Not attempted before this time (epoch ms): the delivery latency, then the retry schedule. */
  notBefore: number;
  lastError?: string;
}

/** What delivery needs from the timing profile. */
export interface DeliveryTiming {
  readonly realistic: boolean;
  /** Realistic: how long after the write an event goes out. */
  latencyMs(): number;
  /** How long a webhook may take to answer before the attempt counts as failed. */
  responseTimeoutMs(): number;
  /** Realistic: the wait after `attemptsMade` failed attempts (Event Grid's schedule, scaled). */
  retryDelayMs(attemptsMade: number): number;
  /** Realistic: the event's time to live, from publication. */
  ttlMs(): number;
}

const INSTANT_DELIVERY: DeliveryTiming = {
  realistic: false,
  latencyMs: () => 0,
  responseTimeoutMs: () => 30_000,
  retryDelayMs: () => 0,
  ttlMs: () => Infinity,
};

/** What a state file holds of Event Grid. */
export interface DeliveryState {
  readonly options: DeliveryOptions;
  readonly subscriptions: EventSubscription[];
  readonly queues: Record<string, PendingDelivery[]>;
  readonly deadLetters: DeadLetter[];
}

const DEFAULT_OPTIONS: DeliveryOptions = { duplicate: 0, reorder: false, reorderWindowMs: 20, maxAttempts: 5, initialBackoffMs: 50, paused: false };

/**
 * Webhook delivery in the Event Grid schema: one event per POST (an array of one), header
 * `aeg-event-type: Notification`, retries on non-2xx, connection errors and answers slower than the
 * response timeout, then dead-letter. Each subscription has its own sequential lane.
 *
 * Instant timing (the historical behaviour): delivered at once, in order unless told to reorder; a
 * failing event is retried with exponential backoff (`initialBackoffMs`) before the next one goes.
 * Realistic timing: each event waits the delivery latency; a failed one waits Event Grid's retry
 * schedule while the others go on (Event Grid does not guarantee order); it is dead-lettered after
 * `maxAttempts` or when the next retry would pass the 24-hour time to live.
 *
 * An event leaves its queue only once acknowledged or dead-lettered, so a state file written at any
 * moment holds everything not yet acknowledged (delivered again after a restart: at least once).
 */
export class EventDelivery {
  private readonly subscriptions = new Map<string, EventSubscription>();
  private readonly queues = new Map<string, PendingDelivery[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly wakers = new Map<string, () => void>();
  private readonly deadLetters: DeadLetter[] = [];
  private readonly abort = new AbortController();
  private closed = false;
  options: DeliveryOptions = { ...DEFAULT_OPTIONS };
  /** Called whenever something a state file holds changed (queues, dead letters, subscriptions, options). */
  onChange: () => void = () => {};

  constructor(
    private readonly timing: () => DeliveryTiming = () => INSTANT_DELIVERY,
    private readonly clock: () => number = Date.now,
  ) {}

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
    this.onChange();
    if (!next.paused) this.kickAll();
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
    this.onChange();
    return subscription;
  }

  unsubscribe(id: string): boolean {
    this.queues.delete(id);
    this.wakers.get(id)?.();
    const removed = this.subscriptions.delete(id);
    if (removed) this.onChange();
    return removed;
  }

  list(): EventSubscription[] {
    return [...this.subscriptions.values()];
  }

  deadLettered(): DeadLetter[] {
    return [...this.deadLetters];
  }

  /** Events accepted and not yet acknowledged, per subscription. */
  pending(): Record<string, PendingDelivery[]> {
    return Object.fromEntries([...this.queues].map(([id, q]) => [id, [...q]]));
  }

  publish(event: EventGridEvent): void {
    if (this.closed) return;
    const timing = this.timing();
    const now = this.clock();
    for (const sub of this.subscriptions.values()) {
      if (!matchesFilter(sub.filter, event)) continue;
      const queue = this.queues.get(sub.id);
      if (!queue) continue;
      for (let i = 0; i <= this.options.duplicate; i++) queue.push({ event, publishedAt: now, attempts: 0, notBefore: now + timing.latencyMs() });
      this.onChange();
      this.kick(sub);
    }
  }

  /** Resolves once every queue is empty and no delivery is in flight (paused queues count as idle). */
  async idle(): Promise<void> {
    while (this.workers.size > 0) await Promise.allSettled([...this.workers.values()]);
  }

  reset(): void {
    this.subscriptions.clear();
    this.queues.clear();
    for (const wake of this.wakers.values()) wake();
    this.deadLetters.length = 0;
    this.options = { ...DEFAULT_OPTIONS };
    this.onChange();
  }

  /** What a state file keeps. */
  exportState(): DeliveryState {
    return { options: { ...this.options }, subscriptions: this.list(), queues: this.pending(), deadLetters: this.deadLettered() };
  }

  /** Takes a state file's Event Grid back (no new handshake: the subscriber is where it was) and resumes delivery. */
  restore(state: DeliveryState): void {
    this.subscriptions.clear();
    this.queues.clear();
    this.deadLetters.length = 0;
    this.options = { ...DEFAULT_OPTIONS, ...state.options };
    for (const sub of state.subscriptions) {
      this.subscriptions.set(sub.id, sub);
      this.queues.set(sub.id, [...(state.queues[sub.id] ?? [])]);
    }
    this.deadLetters.push(...state.deadLetters);
    if (!this.options.paused) this.kickAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    for (const wake of this.wakers.values()) wake();
    await Promise.allSettled([...this.workers.values()]);
  }

  private kickAll(): void {
    for (const sub of this.subscriptions.values()) if ((this.queues.get(sub.id)?.length ?? 0) > 0) this.kick(sub);
  }

  private kick(sub: EventSubscription): void {
    if (this.options.paused || this.closed) return;
    if (this.workers.has(sub.id)) {
      this.wakers.get(sub.id)?.();
      return;
    }
    const run = this.timing().realistic ? this.realisticLane(sub) : this.instantLane(sub);
    const worker = run.finally(() => this.workers.delete(sub.id));
    this.workers.set(sub.id, worker);
  }

  private remove(sub: EventSubscription, entry: PendingDelivery): void {
    const queue = this.queues.get(sub.id);
    const at = queue?.indexOf(entry) ?? -1;
    if (queue && at >= 0) queue.splice(at, 1);
    this.onChange();
  }

  private deadLetter(sub: EventSubscription, entry: PendingDelivery, attempts: number, lastError: string): void {
    this.deadLetters.push({ subscriptionId: sub.id, event: entry.event, attempts, lastError });
    this.remove(sub, entry);
  }

  /** The historical lane: what is queued goes out in bursts, each event retried in place before the next. */
  private async instantLane(sub: EventSubscription): Promise<void> {
    // Let the current request (or, when reordering, a whole burst) finish queueing.
    if (this.options.reorder) await this.sleep(sub, this.options.reorderWindowMs, false);
    else await new Promise((r) => setImmediate(r));
    for (;;) {
      const queue = this.queues.get(sub.id);
      if (!queue || queue.length === 0 || this.closed || this.options.paused) break;
      const batch = [...queue];
      if (this.options.reorder) batch.reverse();
      for (const entry of batch) await this.deliverInPlace(sub, entry);
    }
  }

  private async deliverInPlace(sub: EventSubscription, entry: PendingDelivery): Promise<void> {
    let lastError = entry.lastError ?? "";
    while (entry.attempts < this.options.maxAttempts && !this.closed) {
      if (entry.attempts > 0) await this.sleep(sub, entry.notBefore - this.clock(), false);
      if (this.closed || !this.queues.has(sub.id)) return;
      const result = await this.attempt(sub, entry);
      if (result === "closed") return;
      if (result === "ok") return this.remove(sub, entry);
      lastError = result.error;
      if (result.final) return this.deadLetter(sub, entry, entry.attempts + 1, lastError);
      entry.attempts += 1;
      entry.lastError = lastError;
      entry.notBefore = this.clock() + this.options.initialBackoffMs * 2 ** (entry.attempts - 1);
      this.onChange();
    }
    if (!this.closed) this.deadLetter(sub, entry, this.options.maxAttempts, lastError);
  }

  /** The realistic lane: the entry due first goes next; a failed one waits its retry without holding the others. */
  private async realisticLane(sub: EventSubscription): Promise<void> {
    for (;;) {
      const queue = this.queues.get(sub.id);
      if (!queue || queue.length === 0 || this.closed || this.options.paused) break;
      const now = this.clock();
      let next: PendingDelivery | undefined;
      for (const entry of queue) {
        if (!next || entry.notBefore < next.notBefore) next = entry;
        // Reordering: among the events that are due, the newest goes first.
        else if (this.options.reorder && entry.notBefore <= now) next = entry;
      }
      if (!next) break;
      if (next.notBefore > now) {
        await this.sleep(sub, next.notBefore - now, true);
        continue;
      }
      const entry = next;
      const result = await this.attempt(sub, entry);
      if (result === "closed") return;
      if (result === "ok") {
        this.remove(sub, entry);
        continue;
      }
      if (result.final) {
        this.deadLetter(sub, entry, entry.attempts + 1, result.error);
        continue;
      }
      entry.attempts += 1;
      entry.lastError = result.error;
      const timing = this.timing();
      const wait = timing.retryDelayMs(entry.attempts);
      const at = this.clock() + wait;
      if (entry.attempts >= this.options.maxAttempts) {
        this.deadLetter(sub, entry, entry.attempts, result.error);
      } else if (at - entry.publishedAt > timing.ttlMs()) {
        this.deadLetter(sub, entry, entry.attempts, `${result.error} (time to live expired)`);
      } else {
        entry.notBefore = at;
        this.onChange();
      }
    }
  }

  private async attempt(sub: EventSubscription, entry: PendingDelivery): Promise<"ok" | "closed" | { error: string; final: boolean }> {
    try {
      const res = await fetch(sub.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "aeg-event-type": "Notification",
          "aeg-subscription-name": sub.id.toUpperCase(),
          "aeg-delivery-count": String(entry.attempts),
          "aeg-data-version": entry.event.dataVersion,
          "aeg-metadata-version": entry.event.metadataVersion,
        },
        body: JSON.stringify([entry.event]),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timing().responseTimeoutMs())]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return "ok";
      return { error: `HTTP ${res.status}`, final: NO_RETRY.has(res.status) };
    } catch (error) {
      if (this.closed) return "closed";
      const e = error as Error;
      return { error: e.name === "TimeoutError" ? `no answer within ${this.timing().responseTimeoutMs()} ms` : e.message, final: false };
    }
  }

  /** Waits `ms`; `wakeable` lets a newly queued event (or close/unsubscribe) end the wait early. */
  private sleep(sub: EventSubscription, ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener("abort", done);
        if (this.wakers.get(sub.id) === done) this.wakers.delete(sub.id);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.abort.signal.addEventListener("abort", done, { once: true });
      if (wakeable) this.wakers.set(sub.id, done);
    });
  }
}
