import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { QueueClient } from "@azure/storage-queue";
import { loadFunctionApp, type FunctionAppRegistry, type RegisteredFunction } from "./functionApp.js";
import { createExecutor, type ExecuteFunction } from "./functionExecutor.js";
import { generateKey, keyMatches, presentedKey, type FunctionKeys } from "./functionKeys.js";
import { handleEventGridWebhook, type WebhookResponse } from "./eventGridWebhook.js";
import { readHostJson, type HostJsonOptions } from "./hostJson.js";
import { toRpcHttpRequest, writeRpcHttpResponse } from "./httpTriggerData.js";
import { InvocationTracker, type HostStats } from "./invocationTracker.js";
import { DEFAULT_PROCESSING_VISIBILITY_MS, QueueListener } from "./queueListener.js";
import { TimerScheduler } from "./timerScheduler.js";
import { bindTrigger, type TriggerBinding } from "./triggerBindings.js";

export interface StartLocalHostOptions {
  /** The app's entry module (path or URL), or a registry from `loadFunctionApp`. */
  readonly entry: string | URL | FunctionAppRegistry;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** App settings, over the process environment: resolve `%NAME%` in bindings and name queue connections. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Path of host.json (default ./host.json), or its options already read. */
  readonly hostJson?: string | HostJsonOptions;
  readonly functionKeys?: { readonly default?: string; readonly master?: string; readonly eventGridExtension?: string };
  /** Run timer functions on their schedules (default true); `fireTimer` works either way. */
  readonly timers?: boolean;
  /** Poll queues for queue-triggered functions (default true). */
  readonly queues?: boolean;
  /** Longest wait between polls of an idle queue; default the smaller of host.json's maxPollingInterval and 1 s. */
  readonly queuePollMs?: number;
  /** Overrides host.json's `visibilityTimeout`: the delay before a failed message is retried. */
  readonly queueRetryDelayMs?: number;
  /**
   * How long a queue message stays invisible while its function runs (default 600 000, the host's
   * 10 minutes), renewed at half this interval; a message whose host dies mid-invocation reappears
   * after at most this long. Whole seconds, at least 1 s.
   */
  readonly queueProcessingVisibilityMs?: number;
  /** Where host lines go (invocations, failures, handler logs); default stdout. */
  readonly log?: (line: string) => void;
  /**
   * Largest request body accepted, in bytes (default 1 MiB, Event Grid's cap on a delivery batch);
   * a larger one is answered 413 without being read. Keys are checked before any body is read.
   */
  readonly maxRequestBodyBytes?: number;
}

/** Event Grid caps a delivery batch (and an event) at 1 MB; no request to this app needs more. */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 1024 * 1024;

export interface DrainQueuesOptions {
  /** Give up (and reject, naming the queues) after this long; default 30 s. */
  readonly timeoutInMs?: number;
  /**
   * Wait for delayed messages too (default true): every queue empty. False: done once no message
   * is visible and nothing runs, so a follow-up scheduled minutes ahead does not hold the drain.
   */
  readonly includeDelayed?: boolean;
}

export interface LocalHost {
  /** Base URL, e.g. http://127.0.0.1:7071 (no trailing slash). */
  readonly url: string;
  readonly masterKey: string;
  /** The `default` function key (passes function-level HTTP triggers). */
  readonly functionKey: string;
  /** System keys by name, e.g. `eventgrid_extension`. */
  readonly systemKeys: Readonly<Record<string, string>>;
  readonly functions: readonly RegisteredFunction[];
  /** The webhook URL to subscribe in Event Grid for a function, with its system key. */
  eventGridUrl(functionName: string): string;
  /** Runs a timer function now; rejects with its error if it fails. */
  fireTimer(name: string): Promise<void>;
  /** Resolves once every watched queue is empty (see `includeDelayed`) and no invocation is running. */
  drainQueues(options?: DrainQueuesOptions): Promise<void>;
  stats(): HostStats;
  /** Stops gracefully: no new work, running invocations finish and their messages are settled. */
  close(): Promise<void>;
  /**
   * Stops the way a crash does: the port and the queue pollers stop at once, nothing is settled and
   * no visibility is renewed, so messages being processed reappear after the processing visibility.
   * Handlers still running are abandoned (JavaScript cannot stop them; their results are ignored).
   */
  abort(): void;
}

/**
 * A development stand-in for the Azure Functions host (Core Tools cannot be installed here): it
 * runs the functions the app registers with `@azure/functions`, serving Event Grid webhooks, timers,
 * storage queues (Azurite) and HTTP triggers with the real host's paths, keys and retry semantics.
 * Where Core Tools are installed, `func start` with local.settings.json runs the same app.
 */
export async function startLocalHost(options: StartLocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const registry = isRegistry(options.entry) ? options.entry : await loadFunctionApp(options.entry);
  const hostJson = typeof options.hostJson === "object" ? options.hostJson : readHostJson(resolve(options.hostJson ?? "host.json"));
  const settings: Record<string, string | undefined> = { ...process.env, ...options.settings };
  const bindings = registry.functions.map((fn) => bindTrigger(fn, settings));
  for (const binding of bindings) {
    if (binding.kind === "unsupported") log(`Function '${binding.fn.name}' (${binding.fn.trigger.type}) is not supported by the local host and will not run.`);
  }

  const maxBodyBytes = options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new Error(`maxRequestBodyBytes must be a whole number of at least 1, got ${maxBodyBytes}.`);
  const keys: FunctionKeys = {
    masterKey: options.functionKeys?.master ?? generateKey(),
    functionKey: options.functionKeys?.default ?? generateKey(),
    systemKeys: { eventgrid_extension: options.functionKeys?.eventGridExtension ?? generateKey() },
  };
  const tracker = new InvocationTracker(registry.functions.map((fn) => fn.name));
  const execute = createExecutor(tracker, log);
  const scheduler = new TimerScheduler(
    bindings.flatMap((b) => (b.kind === "timer" ? [{ fn: b.fn, schedule: b.schedule, runOnStartup: b.runOnStartup }] : [])),
    execute,
  );
  const listeners = bindings.flatMap((b) => (b.kind === "queue" ? [createListener(b, hostJson, options, execute, log)] : []));

  await registry.runAppHook("appStart");
  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      log(`Local host failed to answer ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const hostName = options.host ?? "127.0.0.1";
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      rejectListen(
        new Error(
          error.code === "EADDRINUSE"
            ? `Port ${options.port} on ${hostName} is already in use; stop what uses it or choose another port.`
            : `The local Functions host could not listen on ${hostName}:${options.port ?? 0}: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port ?? 0, hostName, () => resolveListen());
  });
  const url = `http://${hostName}:${(server.address() as AddressInfo).port}`;

  if (options.timers ?? true) scheduler.start();
  if (options.queues ?? true) listeners.forEach((listener) => listener.start());
  log(`Local Functions host listening on ${url} with ${registry.functions.map((f) => `${f.name} (${f.trigger.type})`).join(", ")}`);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? "/", `http://${req.headers.host ?? hostName}`);
    const path = requestUrl.pathname.replace(/\/+$/, "");
    const method = (req.method ?? "GET").toUpperCase();
    // The key first, from the URL and headers only: an unauthenticated caller never gets its body
    // read (or buffered), and no body is read past the cap.
    const key = presentedKey(requestUrl, req.headers);
    const body = async (): Promise<Buffer | WebhookResponse> => readBody(req, maxBodyBytes);
    const refuse = (response: WebhookResponse): void => {
      // The unread body is not drained: the connection is closed once the answer is out.
      res.once("finish", () => req.destroy());
      send(res, { ...response, headers: { "content-type": "text/plain; charset=utf-8", connection: "close" } });
    };

    if (path.toLowerCase() === "/runtime/webhooks/eventgrid") {
      // Extension webhooks take their system key (or the master key), in Azure and here alike.
      if (!keyMatches(key, keys.systemKeys["eventgrid_extension"], keys.masterKey)) return refuse(unauthorized("the eventgrid_extension system key or the master key"));
      if (method !== "POST" && method !== "OPTIONS") return refuse({ status: 405, body: "Use POST." });
      const functionName = requestUrl.searchParams.get("functionName") ?? "";
      const read = await body();
      if (!Buffer.isBuffer(read)) return refuse(read);
      return send(res, await handleEventGridWebhook(registry.get(functionName), functionName, method, req.headers, read.toString("utf8"), execute));
    }

    const admin = /^\/admin\/functions\/([^/]+)$/i.exec(path);
    if (admin?.[1]) {
      if (!keyMatches(key, keys.masterKey)) return refuse(unauthorized("the master key"));
      if (method !== "POST") return refuse({ status: 405, body: "Use POST." });
      const read = await body();
      if (!Buffer.isBuffer(read)) return refuse(read);
      return send(res, runNonHttpFunction(decodeURIComponent(admin[1]), read));
    }

    const prefix = hostJson.httpRoutePrefix === "" ? "" : `/${hostJson.httpRoutePrefix}`;
    if (path.toLowerCase() === prefix.toLowerCase() || path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`)) {
      const rest = path.slice(prefix.length);
      for (const binding of bindings) {
        if (binding.kind !== "http") continue;
        const params = binding.route.match(rest);
        if (!params || (binding.methods.length > 0 && !binding.methods.includes(method))) continue;
        const allowed =
          binding.authLevel === "anonymous" ||
          (binding.authLevel === "function" && keyMatches(key, keys.functionKey, keys.masterKey)) ||
          (binding.authLevel === "admin" && keyMatches(key, keys.masterKey));
        if (!allowed) return refuse(unauthorized(binding.authLevel === "admin" ? "the master key" : "a function key"));
        const read = await body();
        if (!Buffer.isBuffer(read)) return refuse(read);
        // App Service sets these from its authentication and lets no client set them; neither does this host.
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !name.toLowerCase().startsWith("x-ms-client-principal")));
        const outcome = await execute(binding.fn, toRpcHttpRequest(method, requestUrl, headers, read, params));
        if (!outcome.ok) return send(res, { status: 500 });
        return writeRpcHttpResponse(res, outcome.result.returnValue);
      }
    }
    return refuse({ status: 404 });
  }

  /** `POST /admin/functions/NAME` with `{"input": "..."}`: the host's way to run a non-HTTP function now. */
  function runNonHttpFunction(name: string, body: Buffer): WebhookResponse {
    const binding = bindings.find((b) => b.fn.name.toLowerCase() === name.toLowerCase());
    if (!binding) return { status: 404, body: `No function named "${name}".` };
    if (binding.kind === "http") return { status: 400, body: `"${name}" is an HTTP function; call it under /${hostJson.httpRoutePrefix}/.` };
    let input: unknown = "";
    if (body.length > 0) {
      try {
        input = (JSON.parse(body.toString("utf8")) as { input?: unknown }).input ?? "";
      } catch (error) {
        return { status: 400, body: `The body must be JSON like {"input": "..."}: ${(error as Error).message}` };
      }
    }
    if (binding.kind === "timer") {
      void scheduler.fire(binding.fn.name).catch(() => {});
    } else {
      void execute(binding.fn, { string: typeof input === "string" ? input : JSON.stringify(input) });
    }
    return { status: 202 };
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    masterKey: keys.masterKey,
    functionKey: keys.functionKey,
    systemKeys: keys.systemKeys,
    functions: registry.functions,
    eventGridUrl: (functionName) =>
      `${url}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(functionName)}&code=${encodeURIComponent(keys.systemKeys["eventgrid_extension"] ?? "")}`,
    fireTimer: (name) => scheduler.fire(name),
    async drainQueues(drainOptions = {}) {
      const deadline = Date.now() + (drainOptions.timeoutInMs ?? 30_000);
      for (;;) {
        listeners.forEach((listener) => listener.wake());
        await tracker.idle();
        const visibleOnly = drainOptions.includeDelayed === false;
        const pending = await Promise.all(listeners.map(async (l) => ({ queue: l.queueName, count: await l.pending({ visibleOnly }) })));
        const busy = pending.filter((p) => p.count > 0);
        if (busy.length === 0 && tracker.running === 0) return;
        if (Date.now() > deadline) {
          throw new Error(
            `Queues did not drain within ${drainOptions.timeoutInMs ?? 30_000} ms: ${busy.map((p) => `${p.queue} (${p.count})`).join(", ") || `${tracker.running} invocation(s) still running`}.`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stats: () => tracker.stats(),
    abort() {
      if (closing) return;
      closing = Promise.resolve();
      scheduler.close();
      listeners.forEach((listener) => listener.abort());
      server.close();
      server.closeAllConnections();
    },
    close() {
      closing ??= (async () => {
        scheduler.close();
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        await Promise.all(listeners.map((listener) => listener.close()));
        await tracker.idle();
        await registry.runAppHook("appTerminate");
      })();
      return closing;
    },
  };
}

function createListener(
  binding: Extract<TriggerBinding, { kind: "queue" }>,
  hostJson: HostJsonOptions,
  options: StartLocalHostOptions,
  execute: ExecuteFunction,
  log: (line: string) => void,
): QueueListener {
  const maxPolling = options.queuePollMs ?? Math.min(hostJson.queues.maxPollingIntervalInMs, 1000);
  return new QueueListener({
    fn: binding.fn,
    queue: new QueueClient(binding.connectionString, binding.queueName),
    poisonQueue: new QueueClient(binding.connectionString, `${binding.queueName}-poison`),
    maxDequeueCount: hostJson.queues.maxDequeueCount,
    retryDelayInMs: options.queueRetryDelayMs ?? hostJson.queues.visibilityTimeoutInMs,
    processingVisibilityInMs: options.queueProcessingVisibilityMs ?? DEFAULT_PROCESSING_VISIBILITY_MS,
    batchSize: hostJson.queues.batchSize,
    newBatchThreshold: hostJson.queues.newBatchThreshold,
    messageEncoding: hostJson.queues.messageEncoding,
    minPollingIntervalInMs: Math.min(100, maxPolling),
    maxPollingIntervalInMs: maxPolling,
    execute,
    log,
  });
}

function isRegistry(entry: StartLocalHostOptions["entry"]): entry is FunctionAppRegistry {
  return typeof entry === "object" && !(entry instanceof URL) && "functions" in entry;
}

/** The body, or a 413 as soon as it is known to be over `max` bytes (by Content-Length, or while streaming). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | WebhookResponse> {
  const tooLarge = (size: string): WebhookResponse => ({ status: 413, body: `Request body too large: ${size}; this host accepts at most ${max} bytes (Event Grid caps a batch at 1 MB).` });
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return tooLarge(`${declared} bytes declared`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return tooLarge(`more than ${max} bytes sent`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function unauthorized(what: string): WebhookResponse {
  return { status: 401, body: `Unauthorized: pass ${what} as ?code= or in the x-functions-key header.` };
}

function send(res: ServerResponse, response: WebhookResponse): void {
  res.writeHead(response.status, { ...(response.body !== undefined && !response.headers ? { "content-type": "text/plain; charset=utf-8" } : {}), ...response.headers });
  res.end(response.body);
}
