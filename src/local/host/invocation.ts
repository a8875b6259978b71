import { randomUUID } from "node:crypto";
import type {
  CoreApiState,
  CoreInvocationContext,
  CoreRegistration,
  InvocationState,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcTypedData,
} from "./coreApi.js";

export interface InvocationLog {
  (entry: { functionName: string; invocationId: string; level: RpcLogLevel; category: RpcLogCategory; message: string }): void;
}

export interface InvocationInput {
  readonly invocationId?: string;
  /** The trigger binding's value, as the host would send it over gRPC. */
  readonly triggerInput: RpcTypedData;
  readonly triggerMetadata?: Record<string, RpcTypedData>;
}

/**
 * Runs one invocation the way the Node.js worker's InvocationHandler does: the programming model
 * `@azure/functions` installed builds the real `InvocationContext` and trigger value from RPC data
 * (camel-casing timer info and trigger metadata, building `HttpRequest`), pre-invocation hooks run,
 * then the handler, post-invocation hooks, and the response is converted back to RPC data.
 * Driving that path rather than calling the handler directly keeps the conversions identical to Azure.
 * A handler error rejects the returned promise, as a failed invocation does in the worker.
 */
export async function runInvocation(
  core: CoreApiState,
  registration: CoreRegistration,
  input: InvocationInput,
  log: InvocationLog,
): Promise<RpcInvocationResponse> {
  const model = core.programmingModel;
  if (!model) {
    throw new Error(
      `No programming model is registered, so "${registration.metadata.name}" cannot be invoked. ` +
        "The app must register its functions through @azure/functions 4.x (app.http, app.timer, ...).",
    );
  }
  const functionName = registration.metadata.name;
  const triggerBindingName = triggerBindingNameOf(registration);
  const invocationId = input.invocationId ?? randomUUID();
  const request: RpcInvocationRequest = {
    invocationId,
    functionId: registration.metadata.functionId ?? functionName,
    inputData: [{ name: triggerBindingName, data: input.triggerInput }],
    triggerMetadata: input.triggerMetadata ?? {},
    retryContext: null,
    traceContext: null,
  };
  const coreContext: CoreInvocationContext & { state?: InvocationState } = {
    invocationId,
    request,
    metadata: registration.metadata,
    state: undefined,
    log: (level, category, message) => log({ functionName, invocationId, level, category, message }),
  };

  const invocationModel = await model.getInvocationModel(coreContext);
  const { context, inputs } = await invocationModel.getArguments();
  const hookData: Record<string, unknown> = {};

  const pre = { hookData, appHookData: core.appHookData, invocationContext: context, functionCallback: registration.callback, inputs };
  await runHooks(core, "preInvocation", pre, coreContext, "preInvocationHooks");

  const post = { hookData, appHookData: core.appHookData, invocationContext: context, inputs: pre.inputs, result: null as unknown, error: null as unknown };
  coreContext.state = "invocation";
  try {
    post.result = await invocationModel.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (error) {
    post.error = error;
  } finally {
    coreContext.state = undefined;
  }
  await runHooks(core, "postInvocation", post, coreContext, "postInvocationHooks");
  if (post.error !== null && post.error !== undefined) throw post.error;
  return invocationModel.getResponse(context, post.result);
}

export function triggerBindingNameOf(registration: CoreRegistration): string {
  for (const [name, binding] of Object.entries(registration.metadata.bindings)) {
    if (binding.direction !== "out" && typeof binding.type === "string" && /trigger$/i.test(binding.type)) return name;
  }
  throw new Error(`Function "${registration.metadata.name}" has no trigger binding.`);
}

async function runHooks(
  core: CoreApiState,
  hookName: string,
  hookContext: Record<string, unknown>,
  coreContext: { state?: InvocationState },
  state: InvocationState,
): Promise<void> {
  const callbacks = [...(core.hooks.get(hookName) ?? [])];
  if (callbacks.length === 0) return;
  coreContext.state = state;
  try {
    for (const callback of callbacks) await callback(hookContext);
  } finally {
    coreContext.state = undefined;
  }
}
