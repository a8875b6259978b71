import type { QueueClient, DequeuedMessageItem } from "@azure/storage-queue";
import type { RegisteredFunction } from "./functionApp.js";
import type { ExecuteFunction } from "./functionExecutor.js";

export interface QueueListenerOptions {
  readonly fn: RegisteredFunction;
  readonly queue: QueueClient;
  readonly poisonQueue: QueueClient;
  readonly maxDequeueCount: number;
  /** Invisibility of a failed message before its retry (host.json `visibilityTimeout`). */
  readonly retryDelayInMs: number;
  /**
   * How long a received message stays invisible while its handler runs (the host's 10 minutes),
   * renewed at half this interval until the handler settles. Storage counts whole seconds (min 1 s).
   */
  readonly processingVisibilityInMs?: number;
  readonly batchSize: number;
  /** A new batch is fetched once no more than this many messages are being processed (host.json `newBatchThreshold`). */
  readonly newBatchThreshold?: number;
  readonly messageEncoding: "base64" | "none";
  readonly minPollingIntervalInMs: number;
  readonly maxPollingIntervalInMs: number;
  readonly execute: ExecuteFunction;
  readonly log: (line: string) => void;
}

/** The host receives queue messages with a 10-minute visibility timeout (WebJobs' QueueListener). */
export const DEFAULT_PROCESSING_VISIBILITY_MS = 600_000;

/** The current pop receipt of a message being processed: every visibility update replaces it. */
interface Lease {
  popReceipt: string;
  lost: boolean;
}

interface Renewal {
  /** Stops renewing; resolves once an update in flight has finished (so the pop receipt is current). */
  stop(): Promise<void>;
}

/**
 * Polls one storage queue for one queue-triggered function with the host's semantics: a message is
 * received invisible for the processing visibility (10 minutes by default) and kept invisible while
 * its handler runs by updating its visibility at half that interval, so a message whose host dies
 * mid-invocation reappears after at most that long, its dequeue count one higher. Success deletes
 * the message; failure makes it visible again after `visibilityTimeout`; a message failing on its
 * `maxDequeueCount`-th delivery (or arriving past it) is copied, text unchanged, to `<queue>-poison`
 * and deleted. Messages of a batch run in parallel, and the next batch is fetched once no more than
 * `newBatchThreshold` are still running. An idle queue is polled with exponential backoff up to
 * `maxPollingIntervalInMs`, so a delayed message runs at most that long after it becomes visible.
 * A missing queue counts as empty, as it does for the host (which does not create it).
 */
export class QueueListener {
  readonly #o: QueueListenerOptions;
  readonly #visibilitySeconds: number;
  readonly #newBatchThreshold: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #renewals = new Set<Renewal>();
  #closed = false;
  #aborted = false;
  #delayInMs: number;
  #wakeUp: (() => void) | undefined;
  #stopSignal: () => void = () => {};
  readonly #stopped = new Promise<void>((resolve) => (this.#stopSignal = resolve));
  #loop: Promise<void> | undefined;

  constructor(options: QueueListenerOptions) {
    this.#o = options;
    this.#delayInMs = options.minPollingIntervalInMs;
    this.#visibilitySeconds = Math.max(1, Math.ceil((options.processingVisibilityInMs ?? DEFAULT_PROCESSING_VISIBILITY_MS) / 1000));
    this.#newBatchThreshold = Math.max(0, options.newBatchThreshold ?? Math.floor(options.batchSize / 2));
  }

  get queueName(): string {
    return this.#o.queue.name;
  }

  /** The processing visibility actually used, in whole seconds as storage counts it. */
  get processingVisibilityInMs(): number {
    return this.#visibilitySeconds * 1000;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Polls now instead of waiting out the backoff. */
  wake(): void {
    this.#delayInMs = this.#o.minPollingIntervalInMs;
    this.#wakeUp?.();
  }

  /**
   * Messages still in the queue plus the messages being processed. `visibleOnly`: count only the
   * messages that could run now, leaving out delayed ones (and ones leased by another listener).
   */
  async pending(options: { visibleOnly?: boolean } = {}): Promise<number> {
    let count = 0;
    try {
      count = options.visibleOnly
        ? (await this.#o.queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length
        : ((await this.#o.queue.getProperties()).approximateMessagesCount ?? 0);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return count + this.#inFlight.size;
  }

  /** Stops polling and waits for the messages being processed to be settled, as the host's shutdown does. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopSignal();
    this.#wakeUp?.();
    await this.#loop;
    await Promise.all([...this.#inFlight]);
  }

  /**
   * Stops the way a crashed host does: no more polls, visibility renewals or settlements. Handlers
   * still running are abandoned (whatever they return is ignored), so their messages reappear once
   * their visibility runs out, with their dequeue count one higher.
   */
  abort(): void {
    this.#aborted = true;
    this.#closed = true;
    this.#stopSignal();
    this.#wakeUp?.();
    for (const renewal of this.#renewals) void renewal.stop();
    this.#renewals.clear();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      // The host's WaitForNewBatchThreshold: fetch more only once enough of the last batches are done.
      while (this.#inFlight.size > this.#newBatchThreshold && !this.#closed) {
        await Promise.race([...this.#inFlight, this.#stopped]);
      }
      if (this.#closed) break;
      let received = 0;
      try {
        received = await this.#pollOnce();
      } catch (error) {
        this.#o.log(`Queue listener for '${this.#o.fn.name}' on '${this.queueName}' failed to poll: ${(error as Error).message}`);
      }
      if (received > 0) {
        this.#delayInMs = this.#o.minPollingIntervalInMs;
        continue;
      }
      if (this.#closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#delayInMs);
        this.#wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeUp = undefined;
      this.#delayInMs = Math.min(this.#delayInMs * 2, this.#o.maxPollingIntervalInMs);
    }
  }

  async #pollOnce(): Promise<number> {
    let messages: DequeuedMessageItem[];
    try {
      const response = await this.#o.queue.receiveMessages({
        numberOfMessages: this.#o.batchSize,
        visibilityTimeout: this.#visibilitySeconds,
      });
      messages = response.receivedMessageItems;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
    // A crash right after a receive: the messages stay invisible until their visibility runs out.
    if (this.#aborted) return messages.length;
    for (const message of messages) {
      const work = this.#process(message).finally(() => this.#inFlight.delete(work));
      this.#inFlight.add(work);
    }
    return messages.length;
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { fn, maxDequeueCount } = this.#o;
    const lease: Lease = { popReceipt: message.popReceipt, lost: false };
    try {
      if (message.dequeueCount > maxDequeueCount) {
        await this.#poison(message, lease);
        return;
      }
      const text = this.#decode(message.messageText);
      if (text === undefined) {
        this.#o.log(
          `Message ${message.messageId} on '${this.queueName}' is not valid base64 (host.json extensions.queues.messageEncoding is "base64"); ` +
            `'${fn.name}' was not run. Send messages base64-encoded, or set messageEncoding to "none".`,
        );
      }
      const renewal = this.#keepInvisible(message, lease);
      let outcome: { ok: boolean };
      try {
        outcome =
          text === undefined
            ? { ok: false }
            : await this.#o.execute(fn, { string: text }, {
                QueueTrigger: text,
                DequeueCount: message.dequeueCount,
                Id: message.messageId,
                PopReceipt: message.popReceipt,
                InsertionTime: message.insertedOn,
                ExpirationTime: message.expiresOn,
                NextVisibleTime: message.nextVisibleOn,
              });
      } finally {
        this.#renewals.delete(renewal);
        await renewal.stop();
      }
      if (this.#aborted) return;
      if (lease.lost) {
        this.#o.log(`Message ${message.messageId} on '${this.queueName}' was lost while '${fn.name}' ran (deleted or received by another listener); it is not settled here.`);
        return;
      }
      if (outcome.ok) {
        await this.#o.queue.deleteMessage(message.messageId, lease.popReceipt);
      } else if (message.dequeueCount >= maxDequeueCount) {
        await this.#poison(message, lease);
      } else {
        await this.#o.queue.updateMessage(message.messageId, lease.popReceipt, undefined, Math.floor(this.#o.retryDelayInMs / 1000));
      }
    } catch (error) {
      this.#o.log(`Queue listener for '${fn.name}' could not settle message ${message.messageId} on '${this.queueName}': ${(error as Error).message}`);
    }
  }

  /**
   * The host's UpdateQueueMessageVisibilityCommand: while the handler runs, push the message's
   * visibility out again whenever half of it has passed, keeping the new pop receipt. A 404 or a
   * pop receipt mismatch means the message is no longer ours (stop); other errors retry sooner.
   */
  #keepInvisible(message: DequeuedMessageItem, lease: Lease): Renewal {
    const intervalInMs = (this.#visibilitySeconds * 1000) / 2;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let update: Promise<void> | undefined;
    let stopped = false;
    const tick = (): void => {
      timer = undefined;
      let next: number | undefined = intervalInMs;
      update = (async () => {
        try {
          const response = await this.#o.queue.updateMessage(message.messageId, lease.popReceipt, undefined, this.#visibilitySeconds);
          if (response.popReceipt) lease.popReceipt = response.popReceipt;
        } catch (error) {
          const status = (error as { statusCode?: unknown }).statusCode;
          if (status === 404 || status === 400) {
            lease.lost = true;
            next = undefined;
          } else {
            next = Math.max(50, intervalInMs / 4);
          }
          this.#o.log(`Queue listener for '${this.#o.fn.name}' could not renew the visibility of message ${message.messageId}: ${(error as Error).message}`);
        }
      })();
      void update.then(() => {
        update = undefined;
        if (!stopped && next !== undefined) timer = setTimeout(tick, next);
      });
    };
    timer = setTimeout(tick, intervalInMs);
    const renewal: Renewal = {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        await update;
      },
    };
    this.#renewals.add(renewal);
    return renewal;
  }

  async #poison(message: DequeuedMessageItem, lease: Lease): Promise<void> {
    const poison = this.#o.poisonQueue;
    this.#o.log(
      `Message ${message.messageId} has reached MaxDequeueCount of ${this.#o.maxDequeueCount}. Moving message to queue '${poison.name}'.`,
    );
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await this.#o.queue.deleteMessage(message.messageId, lease.popReceipt);
  }

  #decode(raw: string): string | undefined {
    if (this.#o.messageEncoding === "none") return raw;
    const compact = raw.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
    return Buffer.from(compact, "base64").toString("utf8");
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { statusCode?: unknown }).statusCode === 404;
}
