import type { RegisteredFunction } from "./functionApp.js";
import type { ExecuteFunction } from "./functionExecutor.js";
import type { TimerSchedule } from "./timerSchedule.js";

export interface ScheduledTimer {
  readonly fn: RegisteredFunction;
  readonly schedule: TimerSchedule;
  readonly runOnStartup: boolean;
}

/** setTimeout's ceiling (about 24.8 days); longer waits are re-armed in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** A run this much later than its scheduled time is reported as past due. */
const PAST_DUE_TOLERANCE_MS = 1000;

/**
 * Runs timer functions on their schedules. Like the host's singleton lock, one timer function never
 * runs twice at once: the next occurrence is armed only after the current run ends, and a manual
 * fire waits for a running one.
 */
export class TimerScheduler {
  readonly #timers = new Map<string, TimerState>();
  readonly #execute: ExecuteFunction;
  #closed = false;

  constructor(timers: readonly ScheduledTimer[], execute: ExecuteFunction) {
    this.#execute = execute;
    for (const timer of timers) {
      this.#timers.set(timer.fn.name.toLowerCase(), { ...timer, last: undefined, handle: undefined, queue: Promise.resolve() });
    }
  }

  has(name: string): boolean {
    return this.#timers.has(name.toLowerCase());
  }

  /** Arms every schedule (and runs `runOnStartup` timers now). */
  start(): void {
    for (const timer of this.#timers.values()) {
      if (timer.runOnStartup) void this.#run(timer, undefined).finally(() => this.#arm(timer));
      else this.#arm(timer);
    }
  }

  /** Runs a timer function now; rejects with the handler's error if it fails. */
  async fire(name: string): Promise<void> {
    const timer = this.#timers.get(name.toLowerCase());
    if (!timer) throw new Error(`No timer function named "${name}". Timer functions: ${[...this.#timers.values()].map((t) => t.fn.name).join(", ") || "none"}.`);
    const outcome = await this.#run(timer, undefined);
    if (!outcome.ok) throw outcome.error;
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer.handle);
  }

  #arm(timer: TimerState): void {
    if (this.#closed) return;
    const due = timer.schedule.next(new Date());
    const wait = (): void => {
      const remaining = due.getTime() - Date.now();
      if (remaining > MAX_TIMEOUT_MS) {
        timer.handle = setTimeout(wait, MAX_TIMEOUT_MS);
        return;
      }
      timer.handle = setTimeout(() => {
        void this.#run(timer, due).finally(() => this.#arm(timer));
      }, Math.max(0, remaining));
    };
    wait();
  }

  #run(timer: TimerState, scheduledFor: Date | undefined): Promise<{ ok: true } | { ok: false; error: Error }> {
    const run = timer.queue.then(async () => {
      if (this.#closed) return { ok: true as const };
      const now = new Date();
      const payload = {
        Schedule: { AdjustForDST: true },
        ScheduleStatus: {
          Last: (timer.last ?? now).toISOString(),
          Next: timer.schedule.next(now).toISOString(),
          LastUpdated: now.toISOString(),
        },
        IsPastDue: scheduledFor !== undefined && now.getTime() - scheduledFor.getTime() > PAST_DUE_TOLERANCE_MS,
      };
      timer.last = now;
      const outcome = await this.#execute(timer.fn, { json: JSON.stringify(payload) });
      return outcome.ok ? { ok: true as const } : { ok: false as const, error: outcome.error };
    });
    timer.queue = run.then(() => undefined);
    return run;
  }
}

interface TimerState extends ScheduledTimer {
  last: Date | undefined;
  handle: NodeJS.Timeout | undefined;
  queue: Promise<void>;
}
