import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "@azure/core-auth";
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { showValue, type SettingsReader } from "../config/settings.js";

/** Public Azure ARM's token scope (the emulator accepts it too). */
export const ARM_SCOPE = "https://management.azure.com/.default";

export interface ArmConnection {
  readonly credential: TokenCredential;
  readonly endpoint: string;
  /**
   * Token scope for ARM, from ARM_AUDIENCE: the cloud's Resource Manager. Not derived from the
   * endpoint, which the emulator or a proxy may override while the audience stays the cloud's.
   */
  readonly scope: string;
  /** Extra CA to trust (the local emulator's), passed to the SDK's TLS options, never a global switch. */
  readonly caPem?: string;
  readonly maxRetries: number;
  readonly retryDelayInMs: number;
}

/** The ARM connection from app settings; bad values are collected in `reader` (see SettingsReader). */
export function readArmConnection(reader: SettingsReader, credential?: TokenCredential): ArmConnection {
  const caFile = reader.string("ARM_CA_FILE");
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = readFileSync(caFile, "utf8");
    } catch (error) {
      reader.problem(`Setting ARM_CA_FILE ${showValue(caFile)} cannot be read (${(error as Error).message}); point it at the emulator's CA PEM or leave it empty.`);
    }
  }
  const endpoint = reader.string("ARM_ENDPOINT").replace(/\/+$/, "");
  if (!/^https:\/\/[^/]/i.test(endpoint)) {
    reader.problem(`Setting ARM_ENDPOINT must be an https URL (the SDK sends bearer tokens only over TLS), got ${showValue(endpoint)}.`);
  }
  const audience = reader.string("ARM_AUDIENCE").replace(/\/+$/, "");
  if (!/^https:\/\/[^/]+$/i.test(audience)) {
    reader.problem(`Setting ARM_AUDIENCE must be the cloud's Resource Manager URL such as https://management.azure.com, got ${showValue(audience)}.`);
  }
  return {
    credential: credential ?? new DefaultAzureCredential(),
    endpoint,
    scope: `${audience}/.default`,
    ...(caPem ? { caPem } : {}),
    maxRetries: reader.integer("ARM_MAX_RETRIES"),
    retryDelayInMs: reader.integer("ARM_RETRY_DELAY_MS"),
  };
}

/** Options both SDK clients accept (core-rest-pipeline's PipelineOptions). */
export function pipelineOptions(connection: ArmConnection, counter: PipelinePolicy) {
  return {
    ...(connection.caPem ? { tlsOptions: { ca: connection.caPem } } : {}),
    retryOptions: { maxRetries: connection.maxRetries, retryDelayInMs: connection.retryDelayInMs },
    additionalPolicies: [{ policy: counter, position: "perRetry" as const }],
  };
}

/**
 * Counts every request that goes on the wire, retries and LRO polls included: in total, and per
 * metered unit of work (one pass), which concurrent passes sharing the clients must not mix up.
 */
export function requestCounter(): { policy: PipelinePolicy; count(): number; metered<T>(work: (count: () => number) => Promise<T>): Promise<T> } {
  let n = 0;
  const meter = new AsyncLocalStorage<{ n: number }>();
  return {
    policy: {
      name: "aadloginRequestCounter",
      sendRequest(request, next) {
        n += 1;
        const scoped = meter.getStore();
        if (scoped) scoped.n += 1;
        return next(request);
      },
    },
    count: () => n,
    metered(work) {
      const scoped = { n: 0 };
      return meter.run(scoped, () => work(() => scoped.n));
    },
  };
}

/** What a REST client needs of a connection: ARM's and Microsoft Graph's both have it. */
export type RestConnection = Pick<ArmConnection, "credential" | "scope" | "caPem" | "maxRetries" | "retryDelayInMs">;

/** Sends requests through the pipeline of `restClient`. */
export interface RestClient {
  send(request: PipelineRequest): Promise<PipelineResponse>;
}

/**
 * A client for the REST calls no SDK client makes here (Resource Graph, the preflight's
 * Microsoft.Network reads, Microsoft Graph): @azure/core-rest-pipeline with the same credential, TLS
 * options and retry policy (429/503 wait for Retry-After) as the SDK clients, and the request counter
 * after the retry phase so that every request on the wire is counted. `extra` policies run after it.
 */
export function restClient(connection: RestConnection, counter: PipelinePolicy, extra: readonly PipelinePolicy[] = []): RestClient {
  const pipeline = createPipelineFromOptions({
    retryOptions: { maxRetries: connection.maxRetries, retryDelayInMs: connection.retryDelayInMs },
    ...(connection.caPem ? { tlsOptions: { ca: connection.caPem } } : {}),
  });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: connection.credential, scopes: connection.scope }), { phase: "Sign" });
  pipeline.addPolicy(counter, { afterPhase: "Retry" });
  for (const policy of extra) pipeline.addPolicy(policy, { afterPhase: "Retry" });
  const httpClient = createDefaultHttpClient();
  return { send: (request) => pipeline.sendRequest(httpClient, request) };
}

/** A response body as JSON, or undefined when it is empty or not JSON. */
export function parseJsonBody(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
