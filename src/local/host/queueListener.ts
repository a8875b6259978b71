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
  readonly batchSize: number;
  readonly messageEncoding: "base64" | "none";
  readonly minPollingIntervalInMs: number;
  readonly maxPollingIntervalInMs: number;
  readonly execute: ExecuteFunction;
  readonly log: (line: string) => void;
}

/** A message stays leased this long while its handler runs, as the host's 10-minute lease. */
const PROCESSING_VISIBILITY_SECONDS = 600;

/**
 * Polls one storage queue for one queue-triggered function with the host's semantics: batches run
 * in parallel; success deletes the message; failure makes it visible again after `visibilityTimeout`;
 * a message failing on its `maxDequeueCount`-th delivery (or arriving past it) is copied, text
 * unchanged, to `<queue>-poison` and deleted. An idle queue is polled with exponential backoff.
 * A missing queue counts as empty, as it does for the host (which does not create it).
 */
export class QueueListener {
  readonly #o: QueueListenerOptions;
  #closed = false;
  #batchRunning = false;
  #delayInMs: number;
  #wakeUp: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: QueueListenerOptions) {
    this.#o = options;
    this.#delayInMs = options.minPollingIntervalInMs;
  }

  get queueName(): string {
    return this.#o.queue.name;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Polls now instead of waiting out the backoff. */
  wake(): void {
    this.#delayInMs = this.#o.minPollingIntervalInMs;
    this.#wakeUp?.();
  }

  /** Messages still in the queue (visible or not) plus whether a batch is being processed. */
  async pending(): Promise<number> {
    let count = 0;
    try {
      count = (await this.#o.queue.getProperties()).approximateMessagesCount ?? 0;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return count + (this.#batchRunning ? 1 : 0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeUp?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
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
        visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
      });
      messages = response.receivedMessageItems;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
    if (messages.length === 0) return 0;
    this.#batchRunning = true;
    try {
      await Promise.all(messages.map((message) => this.#process(message)));
    } finally {
      this.#batchRunning = false;
    }
    return messages.length;
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { fn, maxDequeueCount } = this.#o;
    try {
      if (message.dequeueCount > maxDequeueCount) {
        await this.#poison(message);
        return;
      }
      const text = this.#decode(message.messageText);
      if (text === undefined) {
        this.#o.log(
          `Message ${message.messageId} on '${this.queueName}' is not valid base64 (host.json extensions.queues.messageEncoding is "base64"); ` +
            `'${fn.name}' was not run. Send messages base64-encoded, or set messageEncoding to "none".`,
        );
      }
      const outcome =
        text === undefined
          ? { ok: false as const }
          : await this.#o.execute(fn, { string: text }, {
              QueueTrigger: text,
              DequeueCount: message.dequeueCount,
              Id: message.messageId,
              PopReceipt: message.popReceipt,
              InsertionTime: message.insertedOn,
              ExpirationTime: message.expiresOn,
              NextVisibleTime: message.nextVisibleOn,
            });
      if (outcome.ok) {
        await this.#o.queue.deleteMessage(message.messageId, message.popReceipt);
      } else if (message.dequeueCount >= maxDequeueCount) {
        await this.#poison(message);
      } else {
        await this.#o.queue.updateMessage(message.messageId, message.popReceipt, undefined, Math.floor(this.#o.retryDelayInMs / 1000));
      }
    } catch (error) {
      this.#o.log(`Queue listener for '${fn.name}' could not settle message ${message.messageId} on '${this.queueName}': ${(error as Error).message}`);
    }
  }

  async #poison(message: DequeuedMessageItem): Promise<void> {
    const poison = this.#o.poisonQueue;
    this.#o.log(
      `Message ${message.messageId} has reached MaxDequeueCount of ${this.#o.maxDequeueCount}. Moving message to queue '${poison.name}'.`,
    );
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await this.#o.queue.deleteMessage(message.messageId, message.popReceipt);
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
