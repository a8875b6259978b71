import Module from "node:module";

/**
 * Our stand-in for `@azure/functions-core`, the module the Azure Functions Node.js worker injects
 * at runtime (it is not on npm). `@azure/functions` 4.x `require`s it lazily on the first `app.*`
 * call, hands every registration to `registerFunction(metadata, handler)` and installs its
 * programming model with `setProgrammingModel`. Providing it the way the real worker does
 * (a proxy on `Module.prototype.require` for this one specifier) makes the app register into
 * this process-wide registry with its real binding metadata.
 * The library caches the first lookup, so this must be installed before any `app.*` call, and
 * there can be only one per process: every loaded app shares it.
 */

export const CORE_MODULE_SPECIFIER = "@azure/functions-core";

/** The subset of the worker's RPC types this host produces or reads. */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  query?: Record<string, string> | null;
  statusCode?: string | null;
  cookies?: unknown[] | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: "in" | "out" | "inout" | null;
  [property: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export interface RpcInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number } | null;
  traceContext?: { traceParent?: string; traceState?: string; attributes?: Record<string, string> } | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  returnValue?: RpcTypedData | null;
}

export type RpcLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";
export type RpcLogCategory = "user" | "system" | "customMetric";
export type InvocationState = "preInvocationHooks" | "postInvocationHooks" | "invocation";

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: CoreFunctionMetadata;
  state?: InvocationState;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export type HookCallback = (context: Record<string, unknown>) => unknown;

export interface CoreRegistration {
  readonly metadata: CoreFunctionMetadata;
  readonly callback: FunctionCallback;
}

class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    this.#callOnDispose?.();
    this.#callOnDispose = undefined;
  }
}

export interface CoreApiState {
  readonly registrations: CoreRegistration[];
  readonly hooks: Map<string, HookCallback[]>;
  /** Shared across every invocation's hooks, as the worker's `appHookData`. */
  readonly appHookData: Record<string, unknown>;
  programmingModel: ProgrammingModel | undefined;
  /** Where system logs from the library go (the host swaps in its own sink). */
  systemLog: (level: RpcLogLevel, message: string) => void;
}

const STATE_KEY = Symbol.for("aadlogin-enforcer.local-host.functions-core");

/** Installs the stand-in (once per process) and returns its state. */
export function installCoreApi(): CoreApiState {
  const holder = globalThis as typeof globalThis & { [STATE_KEY]?: CoreApiState };
  const existing = holder[STATE_KEY];
  if (existing) return existing;

  const state: CoreApiState = {
    registrations: [],
    hooks: new Map(),
    appHookData: {},
    programmingModel: undefined,
    systemLog: () => {},
  };
  const coreApi = {
    version: "local",
    hostVersion: "4.0.0-local",
    registerFunction(metadata: CoreFunctionMetadata, callback: FunctionCallback): Disposable {
      if (state.registrations.some((r) => r.metadata.name === metadata.name)) {
        throw new Error(`A function named "${metadata.name}" is already registered; function names must be unique in an app.`);
      }
      const registration = { metadata, callback };
      state.registrations.push(registration);
      return new Disposable(() => {
        const index = state.registrations.indexOf(registration);
        if (index >= 0) state.registrations.splice(index, 1);
      });
    },
    registerHook(hookName: string, callback: HookCallback): Disposable {
      const list = state.hooks.get(hookName) ?? [];
      list.push(callback);
      state.hooks.set(hookName, list);
      return new Disposable(() => {
        const index = list.indexOf(callback);
        if (index >= 0) list.splice(index, 1);
      });
    },
    setProgrammingModel(model: ProgrammingModel): void {
      state.programmingModel = model;
    },
    getProgrammingModel(): ProgrammingModel | undefined {
      return state.programmingModel;
    },
    log(level: RpcLogLevel, _category: RpcLogCategory, message: string): void {
      state.systemLog(level, message);
    },
    Disposable,
  };

  const originalRequire = Module.prototype.require;
  Module.prototype.require = new Proxy(originalRequire, {
    apply(target, thisArg, args: unknown[]) {
      if (args[0] === CORE_MODULE_SPECIFIER) return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
  holder[STATE_KEY] = state;
  return state;
}
