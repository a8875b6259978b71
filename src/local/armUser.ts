import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/core-auth";
import { ARM_SCOPE } from "../azure/armConnection.js";

/**
 * A person acting on ARM with raw REST bodies, as `az rest` or a template deployment would: the
 * demo fleet and the tests create, tag and change VMs through this, with that person's token, so
 * the events the emulator raises carry a user's claims. Uses the Azure SDK's own pipeline
 * (bearer token, retries honouring Retry-After, the emulator's CA through tlsOptions).
 */
export interface ArmUserOptions {
  readonly armUrl: string;
  readonly caPem?: string;
  readonly credential: TokenCredential;
  /** Poll interval for long-running operations. */
  readonly pollIntervalInMs?: number;
}

export interface ArmResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
}

export const API_VERSIONS = {
  compute: "2025-04-01",
  authorization: "2022-04-01",
  resources: "2021-04-01",
} as const;

export class ArmUser {
  private readonly pipeline: Pipeline;
  private readonly client: HttpClient = createDefaultHttpClient();

  constructor(private readonly options: ArmUserOptions) {
    this.pipeline = createPipelineFromOptions({
      ...(options.caPem ? { tlsOptions: { ca: options.caPem } } : {}),
      retryOptions: { maxRetries: 5 },
    });
    this.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: ARM_SCOPE }));
  }

  /** One request; non-2xx answers are returned, not thrown, so callers can assert on them. */
  async request(method: string, path: string, apiVersion: string, body?: unknown, headers: Record<string, string> = {}): Promise<ArmResponse> {
    const url = `${this.options.armUrl}${path}${path.includes("?") ? "&" : "?"}api-version=${apiVersion}`;
    const request = createPipelineRequest({
      url,
      method: method as "GET",
      headers: createHttpHeaders({ "content-type": "application/json", ...headers }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const response = await this.pipeline.sendRequest(this.client, request);
    const text = response.bodyAsText ?? "";
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed, headers: response.headers.toJSON() };
  }

  /** A write that may be long-running: waits for the operation to finish, throws on failure. */
  async write(method: "PUT" | "PATCH" | "DELETE" | "POST", path: string, apiVersion: string, body?: unknown): Promise<ArmResponse> {
    const first = await this.request(method, path, apiVersion, body);
    if (first.status >= 400) throw armFailure(method, path, first);
    const monitor = first.headers["azure-asyncoperation"] ?? (first.status === 202 ? first.headers["location"] : undefined);
    if (!monitor) return first;
    const relative = monitor.startsWith(this.options.armUrl) ? monitor.slice(this.options.armUrl.length) : monitor;
    for (let attempt = 0; attempt < 600; attempt++) {
      await new Promise((r) => setTimeout(r, this.options.pollIntervalInMs ?? 20));
      const poll = await this.request("GET", relative, apiVersion);
      const status = (poll.body as { status?: string } | undefined)?.status;
      if (poll.status >= 400) throw armFailure("GET", relative, poll);
      if (status === "Succeeded" || (status === undefined && poll.status === 200)) return first;
      if (status === "Failed" || status === "Canceled") throw armFailure(method, path, poll);
    }
    throw new Error(`${method} ${path}: the operation did not finish in time.`);
  }

  putVm(vmId: string, body: unknown) {
    return this.write("PUT", vmId, API_VERSIONS.compute, body);
  }

  patchVm(vmId: string, body: unknown) {
    return this.write("PATCH", vmId, API_VERSIONS.compute, body);
  }

  putExtension(vmId: string, name: string, properties: unknown, location: string) {
    return this.write("PUT", `${vmId}/extensions/${name}`, API_VERSIONS.compute, { location, properties });
  }

  deleteExtension(vmId: string, name: string) {
    return this.write("DELETE", `${vmId}/extensions/${name}`, API_VERSIONS.compute);
  }

  /** Merges tags through the tags resource (`Microsoft.Resources/tags/write`), as the portal does. */
  mergeTags(resourceId: string, tags: Record<string, string>) {
    return this.write("PATCH", `${resourceId}/providers/Microsoft.Resources/tags/default`, API_VERSIONS.resources, { operation: "Merge", properties: { tags } });
  }

  replaceTags(resourceId: string, tags: Record<string, string>) {
    return this.write("PUT", `${resourceId}/providers/Microsoft.Resources/tags/default`, API_VERSIONS.resources, { properties: { tags } });
  }

  putResourceGroup(subscriptionId: string, name: string, location: string) {
    return this.write("PUT", `/subscriptions/${subscriptionId}/resourcegroups/${name}`, API_VERSIONS.resources, { location });
  }

  powerAction(vmId: string, action: "start" | "deallocate" | "powerOff" | "restart") {
    return this.write("POST", `${vmId}/${action}`, API_VERSIONS.compute);
  }

  putRoleAssignment(scope: string, name: string, properties: { roleDefinitionId: string; principalId: string; principalType?: string; description?: string }) {
    return this.write("PUT", `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, API_VERSIONS.authorization, { properties });
  }

  /** The assignments made AT the scope (ARM's atScope() also returns the inherited ones above it: left out here). */
  async listRoleAssignments(scope: string): Promise<Array<{ name: string; properties: { roleDefinitionId: string; principalId: string; scope: string; description?: string } }>> {
    const response = await this.request("GET", `${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=${encodeURIComponent("atScope()")}`, API_VERSIONS.authorization);
    if (response.status !== 200) throw armFailure("GET", scope, response);
    const all = (response.body as { value: Array<{ name: string; properties: { roleDefinitionId: string; principalId: string; scope: string; description?: string } }> }).value;
    return all.filter((a) => a.properties.scope.toLowerCase() === scope.toLowerCase());
  }

  async getVm(vmId: string, expand = true): Promise<Record<string, unknown> | undefined> {
    const response = await this.request("GET", `${vmId}${expand ? "?$expand=instanceView" : ""}`, API_VERSIONS.compute);
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw armFailure("GET", vmId, response);
    return response.body as Record<string, unknown>;
  }
}

/** A credential that hands out a fixed bearer token (one the emulator issued for a principal). */
export function staticTokenCredential(token: string, lifetimeInMs = 3600_000): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + lifetimeInMs }) };
}

function armFailure(method: string, path: string, response: ArmResponse): Error {
  const error = (response.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return Object.assign(new Error(`${method} ${path} → ${response.status} ${error?.code ?? ""}: ${error?.message ?? JSON.stringify(response.body).slice(0, 300)}`), {
    statusCode: response.status,
    code: error?.code,
  });
}
