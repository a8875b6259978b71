import type { RegisteredFunction, InvocationResult } from "./functionApp.js";
import type { RpcTypedData } from "./coreApi.js";
import type { InvocationTracker } from "./invocationTracker.js";
import { randomUUID } from "node:crypto";

export type ExecutionOutcome =
  | { readonly ok: true; readonly invocationId: string; readonly result: InvocationResult }
  | { readonly ok: false; readonly invocationId: string; readonly error: Error };

export type ExecuteFunction = (
  fn: RegisteredFunction,
  triggerInput: RpcTypedData,
  triggerMetadata?: Readonly<Record<string, unknown>>,
) => Promise<ExecutionOutcome>;

/**
 * Every trigger runs its function through this: counted, logged with the function name and
 * invocation id, and never throwing, so a failing handler cannot take the host down.
 */
export function createExecutor(tracker: InvocationTracker, log: (line: string) => void): ExecuteFunction {
  return async (fn, triggerInput, triggerMetadata) => {
    const invocationId = randomUUID();
    log(`Executing '${fn.name}' (Reason='${fn.trigger.type}', Id=${invocationId})`);
    const started = Date.now();
    try {
      const result = await tracker.track(fn.name, () =>
        fn.invokeRpc(triggerInput, {
          invocationId,
          triggerMetadata,
          log: (entry) => log(`[${fn.name}] [${entry.invocationId}] ${entry.level}: ${entry.message}`),
        }),
      );
      log(`Executed '${fn.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - started}ms)`);
      return { ok: true, invocationId, result };
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      log(`Executed '${fn.name}' (Failed, Id=${invocationId}, Duration=${Date.now() - started}ms): ${error.stack ?? error.message}`);
      return { ok: false, invocationId, error };
    }
  };
}
