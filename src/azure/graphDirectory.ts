import {
  createHttpHeaders,
  createPipelineRequest,
  type HttpMethods,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { showValue, type SettingsReader } from "../config/settings.js";
import type { DeviceFact } from "../domain/device.js";
import { displayNameFilter, vmPhysicalId } from "../domain/device.js";
import type { ClassifiedError } from "../domain/outcome.js";
import { DirectoryFailure, type DirectoryPort } from "../orchestrator/ports.js";
import { parseJsonBody, requestCounter, restClient, type ArmConnection, type RestClient, type RestConnection } from "./armConnection.js";

/**
 * The four Microsoft Graph v1.0 calls the enforcer makes about a VM's Entra device, sent through
 * @azure/core-rest-pipeline with the app's credential (scope `<GRAPH_AUDIENCE>/.default`), the SDK's
 * retry policy (429 and 503 wait for Retry-After; 5xx and connection errors back off) and a request
 * counter. Why not @microsoft/msgraph-sdk: four requests do not earn a generated client and its
 * Kiota runtime; the pipeline is the one the ARM clients already use.
 *
 * Contracts (Microsoft Learn, Graph v1.0): "List devices" (`GET /devices`, application permission
 * Device.Read.All), "Get device", "Delete device" (`DELETE /devices/{id}`, 204; application permission
 * Device.ReadWrite.All), "Advanced query capabilities on Microsoft Entra ID objects" (`$filter` on
 * `physicalIds` with `any()` is an advanced query: `ConsistencyLevel: eventual` and `$count=true`),
 * "Microsoft Graph throttling guidance" (429 with Retry-After).
 */

/** Graph's endpoint, with the ARM connection's credential, CA and retry settings and Graph's token scope. */
export interface GraphConnection extends RestConnection {
  readonly endpoint: string;
}

/** Graph's connection from app settings; the CA and retry settings are ARM's (one emulator, one SDK policy). */
export function readGraphConnection(reader: SettingsReader, arm: ArmConnection): GraphConnection {
  const endpoint = reader.string("GRAPH_ENDPOINT").replace(/\/+$/, "");
  if (!/^https:\/\/[^/]/i.test(endpoint)) reader.problem(`Setting GRAPH_ENDPOINT must be an https URL such as https://graph.microsoft.com, got ${showValue(endpoint)}.`);
  const audience = reader.string("GRAPH_AUDIENCE").replace(/\/+$/, "");
  if (!/^https:\/\/[^/]+$/i.test(audience)) reader.problem(`Setting GRAPH_AUDIENCE must be the cloud's Graph URL such as https://graph.microsoft.com, got ${showValue(audience)}.`);
  return {
    credential: arm.credential,
    endpoint,
    scope: `${audience}/.default`,
    ...(arm.caPem ? { caPem: arm.caPem } : {}),
    maxRetries: arm.maxRetries,
    retryDelayInMs: arm.retryDelayInMs,
  };
}

const SELECT = "id,deviceId,displayName,physicalIds,registrationDateTime";

export class GraphDirectory implements DirectoryPort {
  private readonly client: RestClient;
  private readonly counter = requestCounter();

  constructor(private readonly connection: GraphConnection) {
    this.client = restClient(connection, this.counter.policy);
  }

  requestCount(): number {
    return this.counter.count();
  }

  metered<T>(work: (count: () => number) => Promise<T>): Promise<T> {
    return this.counter.metered(work);
  }

  async findVmDevices(vmId: string): Promise<DeviceFact[]> {
    // physicalIds is only filterable as an advanced query (eventually consistent index).
    return this.listDevices(`physicalIds/any(p:p eq '${vmPhysicalId(vmId).replace(/'/g, "''")}')`, true);
  }

  async findDevicesByName(name: string): Promise<DeviceFact[]> {
    // displayName eq is a default query: no ConsistencyLevel, no $count.
    return this.listDevices(displayNameFilter(name), false);
  }

  private async listDevices(filter: string, advanced: boolean): Promise<DeviceFact[]> {
    const query = new URLSearchParams({ $filter: filter, ...(advanced ? { $count: "true" } : {}), $select: SELECT });
    let url: string | undefined = `${this.connection.endpoint}/v1.0/devices?${query.toString()}`;
    const devices: DeviceFact[] = [];
    while (url) {
      const response = await this.send("GET", url, advanced ? { ConsistencyLevel: "eventual" } : {});
      const body = json(response) as { value?: unknown; "@odata.nextLink"?: unknown } | undefined;
      if (!Array.isArray(body?.value)) throw new DirectoryFailure({ class: "transient", code: "GraphBadResponse", message: "Microsoft Graph answered 200 without a value array." });
      devices.push(...body.value.map(toFact));
      url = typeof body["@odata.nextLink"] === "string" ? body["@odata.nextLink"] : undefined;
    }
    return devices;
  }

  async getDevice(id: string): Promise<DeviceFact | undefined> {
    const response = await this.send("GET", `${this.connection.endpoint}/v1.0/devices/${encodeURIComponent(id)}?$select=${SELECT}`, {}, [404]);
    return response.status === 404 ? undefined : toFact(json(response));
  }

  async deleteDevice(id: string): Promise<"deleted" | "unchanged"> {
    const response = await this.send("DELETE", `${this.connection.endpoint}/v1.0/devices/${encodeURIComponent(id)}`, {}, [404]);
    return response.status === 404 ? "unchanged" : "deleted";
  }

  private async send(method: HttpMethods, url: string, headers: Record<string, string>, accepted: readonly number[] = []): Promise<PipelineResponse> {
    const request = createPipelineRequest({ url, method, headers: createHttpHeaders({ accept: "application/json", ...headers }) });
    let response: PipelineResponse;
    try {
      response = await this.client.send(request);
    } catch (error) {
      throw new DirectoryFailure(classifyGraphError(undefined, error));
    }
    if (response.status < 300 || accepted.includes(response.status)) return response;
    throw new DirectoryFailure(classifyGraphError(response));
  }
}

/**
 * Graph's answers sorted like ARM's: 403 is terminal (a permission not granted: record and degrade),
 * 401 too; 429 (past the SDK's Retry-After waits), 5xx and connection errors are transient.
 */
export function classifyGraphError(response: PipelineResponse | undefined, error?: unknown): ClassifiedError {
  if (!response) {
    const code = (error as { code?: unknown })?.code;
    return { class: "transient", code: typeof code === "string" ? code : "GraphUnreachable", message: `Microsoft Graph could not be reached: ${(error as Error)?.message ?? String(error)}` };
  }
  const body = json(response) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === "string" ? body.error.code : `Http${response.status}`;
  const message = `Microsoft Graph answered ${response.status} ${code}: ${typeof body?.error?.message === "string" ? body.error.message : ""}`.slice(0, 400);
  const status = response.status;
  const transient = status === 408 || status === 429 || status >= 500;
  return { class: transient ? "transient" : "terminal", code: status === 403 ? "graph-forbidden" : code, message, statusCode: status };
}

function json(response: PipelineResponse): unknown {
  return parseJsonBody(response.bodyAsText);
}

function toFact(raw: unknown): DeviceFact {
  const d = (raw ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    id: str(d["id"]),
    deviceId: str(d["deviceId"]),
    displayName: str(d["displayName"]),
    physicalIds: Array.isArray(d["physicalIds"]) ? d["physicalIds"].filter((p): p is string => typeof p === "string") : [],
    ...(typeof d["registrationDateTime"] === "string" ? { registeredAt: d["registrationDateTime"] } : {}),
  };
}
