import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
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
