export interface FunctionStats {
  readonly invocations: number;
  readonly failures: number;
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
  readonly #counts = new Map<string, { invocations: number; failures: number }>();
  #running = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(functionNames: readonly string[]) {
    for (const name of functionNames) this.#counts.set(name, { invocations: 0, failures: 0 });
  }

  get running(): number {
    return this.#running;
  }

  async track<T>(functionName: string, work: () => Promise<T>): Promise<T> {
    const counts = this.#counts.get(functionName) ?? { invocations: 0, failures: 0 };
    this.#counts.set(functionName, counts);
    counts.invocations++;
    this.#running++;
    try {
      return await work();
    } catch (error) {
      counts.failures++;
      throw error;
    } finally {
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
      functions[name] = { ...counts };
      invocations += counts.invocations;
      failures += counts.failures;
    }
    return { invocations, failures, functions };
  }
}
