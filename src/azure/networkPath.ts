import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type PipelinePolicy,
} from "@azure/core-rest-pipeline";
import type { NetworkPath, NetworkSecurityGroup, NicPath, NsgRule } from "../domain/nsg.js";
import type { ObservedVm } from "../domain/vm.js";
import { ArmFailure } from "../orchestrator/ports.js";
import { parseJsonBody, restClient, type ArmConnection, type RestClient } from "./armConnection.js";
import { classifyArmError } from "./errors.js";

/**
 * The preflight's reads of a VM's network: each NIC (`GET networkInterfaces/{nic}`), the subnet of
 * its primary IP configuration (`GET virtualNetworks/{vnet}/subnets/{subnet}`) and the security
 * groups they name (`GET networkSecurityGroups/{nsg}`, each group once even when shared). Sent
 * through @azure/core-rest-pipeline with the same credential, TLS options, retry policy and request
 * counter as the other ARM clients. Why not @azure/arm-network: three GETs of plain JSON do not earn
 * a client of a few megabytes; the shapes read are the official examples' (Microsoft.Network
 * 2024-05-01: NetworkInterfaceGet.json, NetworkSecurityGroupGet.json, SubnetGet.json).
 *
 * A resource that cannot be read (404: gone; 403: the enforcer's role lacks the read) is reported as
 * unreadable, not thrown: the preflight then cannot clear the path and the install goes ahead, as it
 * did before the preflight existed. Throttling and server errors throw (transient), like any read.
 */
export const NETWORK_API_VERSION = "2024-05-01";

type Json = Record<string, unknown>;

export class NetworkReader {
  private readonly client: RestClient;

  constructor(private readonly connection: ArmConnection, counter: PipelinePolicy) {
    this.client = restClient(connection, counter);
  }

  async read(vm: ObservedVm): Promise<NetworkPath> {
    const unreadable: { id: string; why: string }[] = [];
    // One read per resource per pass: groups are often shared by the NIC and its subnet, or by several NICs.
    const cache = new Map<string, Promise<Json | undefined>>();
    const get = (id: string): Promise<Json | undefined> => {
      const key = id.toLowerCase();
      let pending = cache.get(key);
      if (!pending) {
        pending = this.get(id).then((r) => {
          if ("why" in r) {
            unreadable.push({ id, why: r.why });
            return undefined;
          }
          return r.body;
        });
        cache.set(key, pending);
      }
      return pending;
    };
    const group = async (id: string | undefined): Promise<NetworkSecurityGroup | undefined> => {
      if (!id) return undefined;
      const body = await get(id);
      return body ? toGroup(body, id) : undefined;
    };
    const nics: NicPath[] = [];
    for (const ref of vm.networkInterfaces ?? []) {
      const nic = await get(ref.id);
      if (!nic) continue;
      const props = obj(nic["properties"]);
      const configs = arr(props["ipConfigurations"]);
      const primaryConfig = configs.find((c) => obj(c["properties"])["primary"] === true) ?? configs[0];
      const subnetId = str(obj(obj(primaryConfig?.["properties"])["subnet"])["id"]);
      const nsg = await group(str(obj(props["networkSecurityGroup"])["id"]));
      const subnet = subnetId ? await get(subnetId) : undefined;
      const subnetNsg = subnet ? await group(str(obj(obj(subnet["properties"])["networkSecurityGroup"])["id"])) : undefined;
      nics.push({
        id: ref.id,
        primary: ref.primary === true || props["primary"] === true,
        ...(nsg ? { nsg } : {}),
        ...(subnetId ? { subnetId } : {}),
        ...(subnetNsg ? { subnetNsg } : {}),
      });
    }
    return { nics, unreadable };
  }

  private async get(id: string): Promise<{ body: Json } | { why: string }> {
    const request = createPipelineRequest({
      url: `${this.connection.endpoint}${id}?api-version=${NETWORK_API_VERSION}`,
      method: "GET",
      headers: createHttpHeaders({ accept: "application/json" }),
    });
    let response;
    try {
      response = await this.client.send(request);
    } catch (error) {
      throw new ArmFailure(classifyArmError(error));
    }
    const body = parseJsonBody(response.bodyAsText);
    if (response.status === 200) return { body: obj(body) };
    const error = obj(obj(body)["error"]);
    const code = str(error["code"]) ?? `Http${response.status}`;
    if (response.status === 404 || response.status === 403) return { why: code };
    const message = `GET ${id} answered ${response.status}: ${str(error["message"]) ?? ""}`.slice(0, 500);
    throw new ArmFailure({ ...classifyArmError(new RestError(message, { code, statusCode: response.status, request, response })), message });
  }
}

/** ARM's rule (`{name, id, properties: {...}}`) flattened into the domain's. */
function toRule(raw: Json): NsgRule | undefined {
  const p = obj(raw["properties"]);
  const name = str(raw["name"]);
  const direction = str(p["direction"]);
  const access = str(p["access"]);
  const priority = p["priority"];
  if (!name || !direction || !access || typeof priority !== "number") return undefined;
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length > 0 ? v.filter((x): x is string => typeof x === "string") : undefined);
  const groups = (v: unknown): unknown[] | undefined => (Array.isArray(v) && v.length > 0 ? v : undefined);
  const fields: Record<string, unknown> = {
    id: str(raw["id"]), name, direction, access, priority,
    protocol: str(p["protocol"]),
    sourceAddressPrefix: str(p["sourceAddressPrefix"]),
    sourceAddressPrefixes: strings(p["sourceAddressPrefixes"]),
    sourceApplicationSecurityGroups: groups(p["sourceApplicationSecurityGroups"]),
    destinationAddressPrefix: str(p["destinationAddressPrefix"]),
    destinationAddressPrefixes: strings(p["destinationAddressPrefixes"]),
    destinationApplicationSecurityGroups: groups(p["destinationApplicationSecurityGroups"]),
    destinationPortRange: str(p["destinationPortRange"]),
    destinationPortRanges: strings(p["destinationPortRanges"]),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as unknown as NsgRule;
}

function toGroup(body: Json, requestedId: string): NetworkSecurityGroup {
  const p = obj(body["properties"]);
  const rules = [...arr(p["securityRules"]), ...arr(p["defaultSecurityRules"])].map(toRule).filter((r): r is NsgRule => r !== undefined);
  return { id: str(body["id"]) ?? requestedId, rules };
}

function obj(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}
function arr(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(obj) : [];
}
function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
