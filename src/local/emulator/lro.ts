import type { ArmError } from "./errors.js";

export type LroStatus = "InProgress" | "Succeeded" | "Failed";

export interface LroOperation {
  readonly id: string;
  readonly subscriptionId: string;
  readonly location: string;
  /** Lower-cased id of the resource the operation works on, so a newer write can settle it first. */
  readonly resourceKey: string;
  /** What the Location poll answers once done (PUT/PATCH: the resource); undefined for DELETE and actions. */
  readonly result?: () => unknown;
  readonly startTime: string;
  readonly dueAt: number;
  status: LroStatus;
  endTime?: string;
  error?: { code: string; message: string };
  /** Applies the operation's effect; returns the error it ended with, if any. */
  readonly complete: () => ArmError | undefined;
  /** A failure the fault rules forced on this operation; `failEffect` then runs instead of `complete`. */
  readonly injectedFailure?: ArmError;
  readonly failEffect?: (error: ArmError) => void;
}

/**
 * Long-running operations, settled lazily: whenever a request arrives, every operation whose delay has
 * passed completes first. State therefore only moves when somebody looks, with no timers to leak, and
 * an operation still reads InProgress for `lroDelayMs` after it was accepted, as ARM's would.
 */
export class LroTracker {
  private readonly operations = new Map<string, LroOperation>();

  start(input: Omit<LroOperation, "status" | "startTime" | "dueAt" | "id"> & { id: string; now: number; delayMs: number }): LroOperation {
    const { now, delayMs, ...rest } = input;
    const op: LroOperation = {
      ...rest,
      status: "InProgress",
      startTime: new Date(now).toISOString(),
      dueAt: now + delayMs,
    };
    this.operations.set(op.id.toLowerCase(), op);
    return op;
  }

  get(id: string): LroOperation | undefined {
    return this.operations.get(id.toLowerCase());
  }

  settle(now: number): void {
    for (const op of this.operations.values()) {
      if (op.status === "InProgress" && op.dueAt <= now) this.finish(op, now);
    }
  }

  /** A new write on a resource completes what is still running on it, so operations never interleave. */
  settleResource(resourceKey: string, now: number): void {
    const k = resourceKey.toLowerCase();
    for (const op of this.operations.values()) {
      if (op.status === "InProgress" && (op.resourceKey === k || op.resourceKey.startsWith(`${k}/`) || k.startsWith(`${op.resourceKey}/`))) {
        this.finish(op, now);
      }
    }
  }

  clear(): void {
    this.operations.clear();
  }

  all(): LroOperation[] {
    return [...this.operations.values()];
  }

  private finish(op: LroOperation, now: number): void {
    let error: ArmError | undefined = op.injectedFailure;
    if (error) {
      op.failEffect?.(error);
    } else {
      try {
        error = op.complete();
      } catch (thrown) {
        error = thrown as ArmError;
      }
    }
    op.endTime = new Date(now).toISOString();
    if (error) {
      op.status = "Failed";
      op.error = { code: error.code, message: error.message };
    } else {
      op.status = "Succeeded";
    }
  }
}
