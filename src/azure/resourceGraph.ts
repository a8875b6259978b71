import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelinePolicy,
  RestError,
} from "@azure/core-rest-pipeline";
import { ArmFailure } from "../orchestrator/ports.js";
import { parseJsonBody, restClient, type ArmConnection, type RestClient } from "./armConnection.js";
import { classifyArmError } from "./errors.js";

/**
 * Azure Resource Graph's query API (`POST /providers/Microsoft.ResourceGraph/resources`), sent
 * through @azure/core-rest-pipeline with the same credential, TLS options, retry policy and request
 * counter as the ARM clients. Why not @azure/arm-resourcegraph: version 5 declares Node >= 22 and 4.x
 * is the legacy (core-http) stack; the one POST with paging needs no client of its own.
 *
 * Facts (Microsoft Learn, "Guidance for throttled requests in Azure Resource Graph" and
 * "Troubleshoot errors using Azure Resource Graph"; REST spec 2024-04-01 examples):
 * - `options.$top` at most 1000 rows a page; the next page by `$skipToken`, and paging needs `id`
 *   in the projection;
 * - at most 1,000 subscriptions per request: batch them;
 * - a per-user quota (e.g. 15 queries per 5 s) reported on every answer in
 *   `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss); beyond it, 429.
 */
export const GRAPH_API_VERSION = "2024-04-01";
export const GRAPH_PAGE_SIZE = 1000;
export const GRAPH_MAX_SUBSCRIPTIONS = 1000;

export interface GraphPage {
  readonly rows: readonly Record<string, unknown>[];
  readonly skipToken?: string;
}

export class ResourceGraph {
  private readonly client: RestClient;
  /** Pages answered so far (each one request on the wire, retries aside). */
  pagesRead = 0;
  /** When the user's quota, exhausted by the last answer, resets (epoch ms). */
  private quotaResetsAt = 0;

  constructor(private readonly connection: ArmConnection, counter: PipelinePolicy, private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))) {
    // Resource Graph's 429 says when the quota resets in its own header; the SDK's throttling policy
    // waits for Retry-After, so it is handed over in that form.
    this.client = restClient(connection, counter, [quotaAsRetryAfter()]);
  }

  /**
   * Every row of `query` over `subscriptions` (batched by 1,000), page by page. The query must
   * project `id`. Throws ArmFailure (classified like any ARM error) when Resource Graph refuses.
   */
  async *rows(subscriptions: readonly string[], query: string): AsyncIterable<Record<string, unknown>> {
    for (let i = 0; i < subscriptions.length; i += GRAPH_MAX_SUBSCRIPTIONS) {
      const batch = subscriptions.slice(i, i + GRAPH_MAX_SUBSCRIPTIONS);
      let skipToken: string | undefined;
      do {
        const page = await this.page(batch, query, skipToken);
        yield* page.rows;
        skipToken = page.skipToken;
      } while (skipToken);
    }
  }

  async page(subscriptions: readonly string[], query: string, skipToken?: string): Promise<GraphPage> {
    // Stagger rather than be throttled: the last answer said the quota is spent until then.
    const wait = this.quotaResetsAt - Date.now();
    if (wait > 0) await this.sleep(wait);
    const request = createPipelineRequest({
      url: `${this.connection.endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=${GRAPH_API_VERSION}`,
      method: "POST",
      headers: createHttpHeaders({ "content-type": "application/json", accept: "application/json" }),
      body: JSON.stringify({
        subscriptions,
        query,
        options: { $top: GRAPH_PAGE_SIZE, resultFormat: "objectArray", ...(skipToken ? { $skipToken: skipToken } : {}) },
      }),
    });
    let response;
    try {
      response = await this.client.send(request);
    } catch (error) {
      throw new ArmFailure(classifyArmError(error));
    }
    const remaining = Number(response.headers.get("x-ms-user-quota-remaining"));
    const resetsInMs = parseResetsAfter(response.headers.get("x-ms-user-quota-resets-after"));
    this.quotaResetsAt = remaining === 0 && resetsInMs !== undefined ? Date.now() + resetsInMs : 0;
    const body = parseJsonBody(response.bodyAsText);
    if (response.status !== 200) {
      const error = (body as { error?: { code?: string; message?: string; details?: { code?: string; message?: string }[] } } | undefined)?.error;
      const detail = error?.details?.map((d) => d.message ?? d.code).filter(Boolean).join("; ");
      const message = `Resource Graph answered ${response.status}: ${error?.message ?? ""}${detail ? ` (${detail})` : ""}`.slice(0, 500);
      const classified = classifyArmError(new RestError(message, { code: error?.code ?? `Http${response.status}`, statusCode: response.status, request, response }));
      // Resource Graph's own message is a support stamp; what was wrong is in its details.
      throw new ArmFailure({ ...classified, message });
    }
    this.pagesRead += 1;
    const data = (body as { data?: unknown } | undefined)?.data;
    if (!Array.isArray(data)) throw new ArmFailure({ class: "transient", code: "GraphBadResponse", message: "Resource Graph answered 200 without a data array." });
    const next = (body as { $skipToken?: unknown }).$skipToken;
    return { rows: data as Record<string, unknown>[], ...(typeof next === "string" && next !== "" ? { skipToken: next } : {}) };
  }
}

/** `hh:mm:ss` (or `d.hh:mm:ss`) → ms. */
export function parseResetsAfter(value: string | undefined): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec((value ?? "").trim());
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

function quotaAsRetryAfter(): PipelinePolicy {
  return {
    name: "resourceGraphQuotaRetryAfter",
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status === 429 && !response.headers.get("retry-after")) {
        const ms = parseResetsAfter(response.headers.get("x-ms-user-quota-resets-after"));
        if (ms !== undefined) response.headers.set("retry-after", String(Math.max(1, Math.ceil(ms / 1000))));
      }
      return response;
    },
  };
}

