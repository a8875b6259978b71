import { createHash } from "node:crypto";
import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, notFound } from "./errors.js";
import { isObject, type Json } from "./http-io.js";
import { requireResourceGroup } from "./resource-groups.js";

/**
 * Microsoft.Network, read side only: network interfaces, network security groups and subnets, as the
 * enforcer's preflight reads them. They are seeded (admin API `POST /network`, `POST /seed {network}`),
 * never written through ARM, and rendered in the shape of the official examples
 * (azure-rest-api-specs, Microsoft.Network stable 2024-05-01: NetworkInterfaceGet.json,
 * NetworkSecurityGroupGet.json, SubnetGet.json; copies in test/fixtures/reference/arm-examples/network).
 */
export type NetworkKind = "networkInterfaces" | "networkSecurityGroups" | "subnets";

export interface NetworkResource {
  /** As seeded (casing kept); the state's key is its lower case. */
  readonly id: string;
  readonly kind: NetworkKind;
  readonly location?: string;
  /** The resource's `properties` as seeded (ids, provisioning states and default rules are added when rendered). */
  readonly properties: Record<string, Json>;
}

const NETWORK_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/(?:(networkInterfaces|networkSecurityGroups)\/([^/]+)|virtualNetworks\/([^/]+)\/subnets\/([^/]+))$/i;

/** Validates one seeded resource (`{id, location?, properties}`) and names its kind from the id. */
export function networkResourceFrom(input: unknown): NetworkResource {
  if (!isObject(input) || typeof input["id"] !== "string") throw badRequest("InvalidRequestContent", "A network resource needs {id, location?, properties}.");
  const m = NETWORK_ID.exec(input["id"]);
  if (!m) {
    throw badRequest("InvalidRequestContent", `'${input["id"].slice(0, 200)}' is not a network interface, network security group or subnet id (.../providers/Microsoft.Network/networkInterfaces/{nic}, networkSecurityGroups/{nsg}, virtualNetworks/{vnet}/subnets/{subnet}).`);
  }
  const kind: NetworkKind = m[3] ? (m[3].toLowerCase() === "networkinterfaces" ? "networkInterfaces" : "networkSecurityGroups") : "subnets";
  const properties = input["properties"] ?? {};
  if (!isObject(properties)) throw badRequest("InvalidRequestContent", `The properties of '${input["id"]}' must be a JSON object.`);
  if (kind === "networkSecurityGroups" && properties["securityRules"] !== undefined && !Array.isArray(properties["securityRules"])) {
    throw badRequest("InvalidRequestContent", `securityRules of '${input["id"]}' must be an array of {name, properties}.`);
  }
  return { id: input["id"], kind, ...(typeof input["location"] === "string" ? { location: input["location"] } : {}), properties: properties as Record<string, Json> };
}

const etagOf = (r: NetworkResource): string => `W/"${createHash("sha256").update(JSON.stringify(r)).digest("hex").slice(0, 8)}-0000-4000-8000-${createHash("sha1").update(r.id.toLowerCase()).digest("hex").slice(0, 12)}"`;
const macOf = (id: string): string => (createHash("sha1").update(id.toLowerCase()).digest("hex").slice(0, 12).toUpperCase().match(/../g) ?? []).join("-");
const lastSegment = (id: string): string => id.split("/").pop() ?? "";

/**
 * The six rules every group carries (Microsoft Learn, "Network security groups: default security
 * rules"; the same names, priorities and descriptions as NetworkSecurityGroupGet.json).
 */
const DEFAULT_RULES: readonly { name: string; description: string; source: string; destination: string; access: "Allow" | "Deny"; priority: number; direction: "Inbound" | "Outbound" }[] = [
  { name: "AllowVnetInBound", description: "Allow inbound traffic from all VMs in VNET", source: "VirtualNetwork", destination: "VirtualNetwork", access: "Allow", priority: 65000, direction: "Inbound" },
  { name: "AllowAzureLoadBalancerInBound", description: "Allow inbound traffic from azure load balancer", source: "AzureLoadBalancer", destination: "*", access: "Allow", priority: 65001, direction: "Inbound" },
  { name: "DenyAllInBound", description: "Deny all inbound traffic", source: "*", destination: "*", access: "Deny", priority: 65500, direction: "Inbound" },
  { name: "AllowVnetOutBound", description: "Allow outbound traffic from all VMs to all VMs in VNET", source: "VirtualNetwork", destination: "VirtualNetwork", access: "Allow", priority: 65000, direction: "Outbound" },
  { name: "AllowInternetOutBound", description: "Allow outbound traffic from all VMs to Internet", source: "*", destination: "Internet", access: "Allow", priority: 65001, direction: "Outbound" },
  { name: "DenyAllOutBound", description: "Deny all outbound traffic", source: "*", destination: "*", access: "Deny", priority: 65500, direction: "Outbound" },
];

function renderRule(nsgId: string, collection: "securityRules" | "defaultSecurityRules", rule: unknown): Json {
  const r = isObject(rule) ? rule : {};
  const name = typeof r["name"] === "string" ? r["name"] : "rule";
  const props = isObject(r["properties"]) ? r["properties"] : {};
  return {
    name,
    id: `${nsgId}/${collection}/${name}`,
    properties: { provisioningState: "Succeeded", protocol: "*", sourcePortRange: "*", ...props },
  } as Json;
}

export function renderNetworkResource(r: NetworkResource): Json {
  const name = lastSegment(r.id);
  const p = r.properties;
  switch (r.kind) {
    case "networkInterfaces": {
      const configs = Array.isArray(p["ipConfigurations"]) ? p["ipConfigurations"] : [{ name: "ipconfig1", properties: {} }];
      const { ipConfigurations: _i, ...rest } = p;
      return {
        name, id: r.id, etag: etagOf(r), location: r.location ?? "westus",
        properties: {
          provisioningState: "Succeeded",
          ipConfigurations: configs.map((c, i) => {
            const cfg = isObject(c) ? c : {};
            const cname = typeof cfg["name"] === "string" ? cfg["name"] : `ipconfig${i + 1}`;
            return {
              name: cname, id: `${r.id}/ipConfigurations/${cname}`,
              properties: { provisioningState: "Succeeded", privateIPAddress: `10.0.0.${4 + i}`, privateIPAllocationMethod: "Dynamic", primary: i === 0, privateIPAddressVersion: "IPv4", ...(isObject(cfg["properties"]) ? cfg["properties"] : {}) },
            };
          }),
          dnsSettings: { dnsServers: [], appliedDnsServers: [], internalDomainNameSuffix: "emulator.bx.internal.cloudapp.net" },
          macAddress: macOf(r.id),
          enableAcceleratedNetworking: false,
          disableTcpStateTracking: false,
          enableIPForwarding: false,
          primary: true,
          vnetEncryptionSupported: false,
          ...rest,
        },
        type: "Microsoft.Network/networkInterfaces",
      } as Json;
    }
    case "networkSecurityGroups": {
      const { securityRules, defaultSecurityRules: _d, ...rest } = p;
      return {
        name, id: r.id, etag: etagOf(r), type: "Microsoft.Network/networkSecurityGroups", location: r.location ?? "westus",
        properties: {
          provisioningState: "Succeeded",
          securityRules: (Array.isArray(securityRules) ? securityRules : []).map((rule) => renderRule(r.id, "securityRules", rule)),
          defaultSecurityRules: DEFAULT_RULES.map((d) =>
            renderRule(r.id, "defaultSecurityRules", {
              name: d.name,
              properties: { description: d.description, protocol: "*", sourcePortRange: "*", destinationPortRange: "*", sourceAddressPrefix: d.source, destinationAddressPrefix: d.destination, access: d.access, priority: d.priority, direction: d.direction },
            }),
          ),
          ...rest,
        },
      } as Json;
    }
    case "subnets":
      return {
        id: r.id, name, etag: etagOf(r),
        properties: { addressPrefix: "10.0.0.0/24", provisioningState: "Succeeded", ...p },
        type: "Microsoft.Network/virtualNetworks/subnets",
      } as Json;
  }
}

/** GET of one network resource by its path; 404 as Microsoft.Network answers for a missing one. */
export function getNetworkResource(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string): ArmResponse {
  requireResourceGroup(ctx, sub, rg);
  const found = ctx.state.network.get(req.path.toLowerCase());
  if (!found) {
    const m = NETWORK_ID.exec(req.path);
    const type = m?.[3] ? `Microsoft.Network/${m[3]}/${m[4]}` : `Microsoft.Network/virtualNetworks/${m?.[5]}/subnets/${m?.[6]}`;
    throw notFound("ResourceNotFound", `The Resource '${type}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
  }
  return { status: 200, body: renderNetworkResource(found) };
}
