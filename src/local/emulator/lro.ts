import { ArmError } from "./errors.js";
import type { PowerState } from "./state.js";
import type { OperationKind } from "./timing.js";

export type { OperationKind };
export type LroStatus = "InProgress" | "Succeeded" | "Failed";

/** The VM (and extension) an operation works on: looked up again when it settles. */
export interface OperationTarget {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly vmName: string;
  readonly extensionName?: string;
}

export interface OperationArgs {
  /** vm-power: the power state the VM ends in. */
  readonly powerState?: PowerState;
  /** The operation put the VM into Updating (realistic power actions and extension deletes) and gives it back. */
  readonly vmUpdating?: boolean;
}

/**
 * A long-running operation, as data: what it does when it settles is decided by its `kind` (see
 * operation-effects.ts), so an operation read back from a state file settles exactly like the original.
 */
export interface LroOperation {
  readonly id: string;
  readonly kind: OperationKind;
  readonly subscriptionId: string;
  readonly location: string;
  /** Lower-cased id of the resource the operation works on (the VM, or the VM's extension). */
  readonly resourceKey: string;
  readonly target: OperationTarget;
  readonly args?: OperationArgs;
  readonly startTime: string;
  readonly dueAt: number;
  status: LroStatus;
  endTime?: string;
  error?: { code: string; message: string };
  /** A failure the fault rules forced on this operation: the kind's failure effect runs instead of its completion. */
  readonly injectedFailure?: { status: number; code: string; message: string };
}

/** What settling an operation does to the emulator's state. */
export interface OperationEffects {
  /** Applies the operation's effect; returns the error it ended with, if any. */
  complete(op: LroOperation, now: number): ArmError | undefined;
  /** The state an operation leaves behind when it fails (injected failure). */
  fail(op: LroOperation, error: ArmError): void;
}

const NO_EFFECTS: OperationEffects = { complete: () => undefined, fail: () => undefined };

export const isOnResource = (op: LroOperation, resourceKey: string): boolean => {
  const k = resourceKey.toLowerCase();
  return op.resourceKey === k || op.resourceKey.startsWith(`${k}/`) || k.startsWith(`${op.resourceKey}/`);
};

/**
 * Long-running operations. They settle lazily (whenever a request arrives, every operation whose time
 * has come completes first, so a read never sees a stale InProgress) and on time (a timer fires at the
 * earliest due time, so effects, state files and anything that watches them do not wait for a poll).
 * An operation still reads InProgress until its `dueAt`, as ARM's would.
 */
export class LroTracker {
  private readonly operations = new Map<string, LroOperation>();
  private readonly inFlight = new Map<string, LroOperation>();
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;
  private stopped = false;
  effects: OperationEffects = NO_EFFECTS;
  /** Called after an operation settled (status, state), whatever settled it. */
  onSettled: (op: LroOperation) => void = () => {};

  constructor(private readonly clock: () => number = Date.now) {}

  start(input: Omit<LroOperation, "status" | "startTime" | "dueAt"> & { now: number; delayMs: number }): LroOperation {
    const { now, delayMs, ...rest } = input;
    const op: LroOperation = {
      ...rest,
      status: "InProgress",
      startTime: new Date(now).toISOString(),
      dueAt: now + delayMs,
    };
    this.operations.set(op.id.toLowerCase(), op);
    this.inFlight.set(op.id.toLowerCase(), op);
    this.schedule();
    return op;
  }

  get(id: string): LroOperation | undefined {
    return this.operations.get(id.toLowerCase());
  }

  /** Completes every operation whose time has come; returns how many. */
  settle(now: number): number {
    let settled = 0;
    for (const op of [...this.inFlight.values()]) {
      if (op.status === "InProgress" && op.dueAt <= now) {
        this.finish(op, now);
        settled++;
      }
    }
    if (settled > 0) this.schedule();
    return settled;
  }

  /** Instant profile: a new write on a resource completes what is still running on it, so operations never interleave. */
  settleResource(resourceKey: string, now: number): void {
    let settled = 0;
    for (const op of [...this.inFlight.values()]) {
      if (isOnResource(op, resourceKey)) {
        this.finish(op, now);
        settled++;
      }
    }
    if (settled > 0) this.schedule();
  }

  /** What is still running on the resource, its children or its parent. */
  inFlightOn(resourceKey: string): LroOperation[] {
    return [...this.inFlight.values()].filter((op) => isOnResource(op, resourceKey));
  }

  /** Ends an operation without its effect: a newer operation (a VM DELETE) took over. */
  preempt(op: LroOperation, now: number): void {
    if (op.status !== "InProgress") return;
    this.inFlight.delete(op.id.toLowerCase());
    op.status = "Failed";
    op.endTime = new Date(now).toISOString();
    op.error = { code: "OperationPreempted", message: "Operation execution has been preempted by a more recent operation." };
    this.onSettled(op);
    this.schedule();
  }

  clear(): void {
    this.operations.clear();
    this.inFlight.clear();
    this.schedule();
  }

  all(): LroOperation[] {
    return [...this.operations.values()];
  }

  /** Puts operations read from a state file back; those still InProgress settle at their due time. */
  restore(operations: readonly LroOperation[]): void {
    this.operations.clear();
    this.inFlight.clear();
    for (const op of operations) {
      this.operations.set(op.id.toLowerCase(), op);
      if (op.status === "InProgress") this.inFlight.set(op.id.toLowerCase(), op);
    }
    this.schedule();
  }

  /** No more timers (the emulator is closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Infinity;
  }

  private schedule(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const op of this.inFlight.values()) if (op.dueAt < next) next = op.dueAt;
    if (next === this.timerDueAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = next;
    if (next === Infinity) return;
    // setTimeout's limit is 2^31-1 ms; a later due time just re-arms.
    const delay = Math.min(Math.max(0, next - this.clock()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueAt = Infinity;
      if (this.stopped) return;
      try {
        this.settle(this.clock());
      } catch (error) {
        console.error("[arm-emulator] settling operations failed:", error);
      }
      this.schedule();
    }, delay);
    this.timer.unref();
  }

  private finish(op: LroOperation, now: number): void {
    this.inFlight.delete(op.id.toLowerCase());
    let error: ArmError | undefined = op.injectedFailure ? new ArmError(op.injectedFailure.status, op.injectedFailure.code, op.injectedFailure.message) : undefined;
    if (error) {
      this.effects.fail(op, error);
    } else {
      try {
        error = this.effects.complete(op, now);
      } catch (thrown) {
        error = thrown instanceof ArmError ? thrown : new ArmError(500, "InternalExecutionError", (thrown as Error).message);
      }
    }
    op.endTime = new Date(now).toISOString();
    if (error) {
      op.status = "Failed";
      op.error = { code: error.code, message: error.message };
    } else {
      op.status = "Succeeded";
    }
    this.onSettled(op);
  }
}
