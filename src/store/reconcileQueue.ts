import { randomUUID } from "node:crypto";
import { QueueClient } from "@azure/storage-queue";
import pMap from "p-map";
import type { TokenCredential } from "@azure/identity";
import { encodeQueueMessage, type ReconcileRequest } from "./reconcileRequest.js";
import { MAX_QUEUE_DELAY_MS } from "../domain/progress.js";

export {
  MAX_QUEUE_MESSAGE_CHARS,
  RECONCILE_TRIGGERS,
  encodeQueueMessage,
  parseReconcileRequest,
  type ReconcileRequest,
  type ReconcileTrigger,
} from "./reconcileRequest.js";

export interface ReconcileQueueOptions {
  /** A storage connection string (Azurite locally); or use accountName/queueEndpoint + credential. */
  readonly connectionString?: string;
  /** Identity-based connection, public Azure only: `https://{accountName}.queue.core.windows.net`. */
  readonly accountName?: string;
  /** Identity-based connection to the service endpoint (AzureWebJobsStorage__queueServiceUri; any cloud); wins over accountName. */
  readonly queueEndpoint?: string;
  readonly credential?: TokenCredential;
  readonly queueName: string;
  /** Messages in flight at once in `sendMany` (default 16). */
  readonly sendConcurrency?: number;
}

export interface ReconcileQueue {
  readonly queueName: string;
  /** Creates the queue when missing. */
  ensure(): Promise<void>;
  /**
   * `delayInMs`: the message stays invisible that long (storage queues count whole seconds, up to
   * 7 days), so a pass can ask to look again later without an invocation waiting for it.
   */
  send(request: ReconcileRequest, options?: SendOptions): Promise<void>;
  /**
   * Sends every request, a bounded number at a time, and returns how many were sent. If some fail,
   * the rest are still sent and an AggregateError reports the count: re-sending is harmless, since
   * a request only says which VM to look at.
   */
  sendMany(requests: readonly ReconcileRequest[]): Promise<number>;
}

export interface SendOptions {
  readonly delayInMs?: number;
}


// Storage queue naming rules: 3-63 lowercase letters, digits and single hyphens, not at either end.
const QUEUE_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/** Why a queue name is unusable, or undefined when it is fine. */
export function queueNameProblem(queueName: unknown): string | undefined {
  if (typeof queueName === "string" && QUEUE_NAME.test(queueName)) return undefined;
  return (
    `Invalid queue name ${JSON.stringify(String(queueName).slice(0, 80))} (RECONCILE_QUEUE_NAME): use 3-63 lowercase letters, digits ` +
    "and single hyphens, starting and ending with a letter or digit."
  );
}

export function createReconcileQueue(options: ReconcileQueueOptions): ReconcileQueue {
  const { queueName } = options;
  const bad = queueNameProblem(queueName);
  if (bad) throw new Error(bad);
  const concurrency = options.sendConcurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`sendConcurrency must be a whole number of at least 1, got ${concurrency}.`);
  }
  const client = queueClient(options);

  async function send(request: ReconcileRequest, sendOptions: SendOptions = {}): Promise<void> {
    const delay = Math.min(Math.max(0, sendOptions.delayInMs ?? 0), MAX_QUEUE_DELAY_MS);
    // Rounded up: a follow-up must never run before the moment it was asked for.
    const visibilityTimeout = Math.ceil(delay / 1000);
    await client.sendMessage(encodeQueueMessage(stamped(request)), visibilityTimeout > 0 ? { visibilityTimeout } : {});
  }

  return {
    queueName,

    async ensure() {
      await client.createIfNotExists();
    },

    send,

    async sendMany(requests) {
      // Encoding first: a malformed request fails the whole batch before anything is sent.
      const messages = requests.map((r) => encodeQueueMessage(stamped(r)));
      let sent = 0;
      const errors: unknown[] = [];
      await pMap(messages, async (message) => {
        try {
          await client.sendMessage(message);
          sent += 1;
        } catch (error) {
          errors.push(error);
        }
      }, { concurrency });
      if (errors.length > 0) {
        const failure = new AggregateError(
          errors,
          `Enqueued ${sent} of ${messages.length} reconcile requests on ${queueName}; ${errors.length} failed: ` +
            `${(errors[0] as Error)?.message ?? String(errors[0])}`,
        );
        // How many did go out: the drift audit records it in its run row.
        throw Object.assign(failure, { sent });
      }
      return sent;
    },
  };
}

function queueClient(options: ReconcileQueueOptions): QueueClient {
  const connectionString = options.connectionString?.trim();
  if (connectionString) return new QueueClient(connectionString, options.queueName);
  const endpoint =
    options.queueEndpoint?.trim() ||
    (options.accountName?.trim() ? `https://${options.accountName.trim()}.queue.core.windows.net` : undefined);
  if (!endpoint) {
    throw new Error("The reconcile queue needs either connectionString, or accountName/queueEndpoint with a credential.");
  }
  if (!options.credential) {
    throw new Error(`The reconcile queue at ${endpoint} needs a credential (identity-based connection).`);
  }
  return new QueueClient(`${endpoint.replace(/\/+$/, "")}/${options.queueName}`, options.credential);
}

/** A request keeps its id and first-sent instant through re-queues; a new request gets both here. */
function stamped(request: ReconcileRequest): ReconcileRequest {
  return { ...request, requestId: request.requestId ?? randomUUID(), requestedAt: request.requestedAt ?? new Date().toISOString() };
}
