export interface FunctionStats {
  readonly invocations: number;
  readonly failures: number;
  /** Wall time spent inside the function, summed: what Flex Consumption bills. */
  readonly totalMs: number;
  /** Each invocation's duration (ms), in the order they ended; the last 100,000 at most. */
  readonly durationsMs: readonly number[];
}

export interface HostStats {
  readonly invocations: number;
  readonly failures: number;
  readonly functions: Readonly<Record<string, FunctionStats>>;
}

/**
 * Counts invocations per function and knows how many are running, so `drainQueues` can tell
 * "nothing left to do" from "a handler is still busy".
 */
export class InvocationTracker {
  readonly #counts = new Map<string, { invocations: number; failures: number; totalMs: number; durationsMs: number[] }>();
  #running = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(functionNames: readonly string[]) {
    for (const name of functionNames) this.#counts.set(name, { invocations: 0, failures: 0, totalMs: 0, durationsMs: [] });
  }

  get running(): number {
    return this.#running;
  }

  async track<T>(functionName: string, work: () => Promise<T>): Promise<T> {
    const counts = this.#counts.get(functionName) ?? { invocations: 0, failures: 0, totalMs: 0, durationsMs: [] };
    this.#counts.set(functionName, counts);
    counts.invocations++;
    this.#running++;
    const started = performance.now();
    try {
      return await work();
    } catch (error) {
      counts.failures++;
      throw error;
    } finally {
      const ms = performance.now() - started;
      counts.totalMs += ms;
      counts.durationsMs.push(ms);
      if (counts.durationsMs.length > 100_000) counts.durationsMs.shift();
      this.#running--;
      if (this.#running === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        waiters.forEach((wake) => wake());
      }
    }
  }

  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stats(): HostStats {
    const functions: Record<string, FunctionStats> = {};
    let invocations = 0;
    let failures = 0;
    for (const [name, counts] of this.#counts) {
      functions[name] = { ...counts, durationsMs: [...counts.durationsMs] };
      invocations += counts.invocations;
      failures += counts.failures;
    }
    return { invocations, failures, functions };
  }
}
