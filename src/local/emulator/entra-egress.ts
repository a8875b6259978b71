import { isObject, type Json } from "./http-io.js";
import { renderNetworkResource, type NetworkResource } from "./network.js";
import type { VmRecord } from "./state.js";

/**
 * Whether a VM's network security groups let it open TCP 443 to Microsoft Entra ID, as Azure would
 * decide it for the VM's outbound traffic. This is the emulator playing Azure, written apart from the
 * enforcer's preflight (src/domain/nsg.ts) on purpose: a shared misreading would hide itself.
 *
 * Azure's evaluation (Microsoft Learn, "How network security groups filter network traffic"): for
 * outbound traffic the group on the NIC is evaluated first, then the group on the subnet; both must
 * allow. Within a group, rules are processed by priority (lowest number first) and the first match
 * ends processing; the default rules (65000 and up) come after the group's own.
 *
 * The emulator knows where Entra ID "is": the published IPv4 ranges of its endpoints,
 * 20.190.128.0/18 and 40.126.0.0/18. Verified in Microsoft's docs: the Azure AD "What's new" archive,
 * August 2018, "Changes to Azure Active Directory IP address ranges" (add exactly these two), and the
 * Azure Backup MABS/DPM support matrix, "URL access" (the same two, beside *.microsoftonline.com).
 * Microsoft 365 "URLs and IP address ranges" (which the archive points to) lists them for Entra ID;
 * that page's current table was not read here. Both ranges are taken to lie inside the service tags
 * AzureActiveDirectory, AzureCloud and Internet (unverified: not read from the downloadable
 * service-tag file). The join is blocked when ANY address in those ranges is denied:
 * the guest resolves login.microsoftonline.com / enterpriseregistration.windows.net to a front end it
 * does not choose, so a partial deny is treated as a failed join (the pessimistic reading).
 */

export const ENTRA_IPV4_RANGES: readonly string[] = ["20.190.128.0/18", "40.126.0.0/18"];

/** Destination service tags whose address space holds Entra ID's endpoints (case-insensitive). */
const TAGS_HOLDING_ENTRA = new Set(["*", "internet", "azureactivedirectory", "azurecloud"]);

export interface EgressRule {
  /** The rule's resource id (or name), reported when it blocks. */
  readonly id: string;
  readonly properties: Json;
}

export interface EgressGroup {
  readonly id: string;
  /** The group's own rules, then its default rules, as Microsoft.Network renders them. */
  readonly securityRules: readonly EgressRule[];
  readonly defaultSecurityRules: readonly EgressRule[];
}

export interface EgressPath {
  /** The group on the VM's primary NIC, when it has one. */
  readonly nicGroup?: EgressGroup;
  /** The group on the subnet of the NIC's primary IP configuration, when it has one. */
  readonly subnetGroup?: EgressGroup;
  /** The primary IP configuration's private address; unknown → rules with specific sources do not match. */
  readonly privateIp?: string;
  /** Application security groups the primary IP configuration belongs to (ids). */
  readonly applicationSecurityGroups?: readonly string[];
}

export type EgressVerdict = { readonly allowed: true } | { readonly allowed: false; readonly groupId: string; readonly ruleId: string; readonly address: string };

interface Interval {
  readonly start: number;
  readonly end: number;
}

function parseIpv4(text: string): number | undefined {
  const parts = text.trim().split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** An IPv4 address or CIDR prefix as an interval; undefined for tags, IPv6 and anything malformed. */
export function ipv4Interval(text: string): Interval | undefined {
  const [address, bitsText, extra] = text.trim().split("/");
  if (address === undefined || extra !== undefined) return undefined;
  const base = parseIpv4(address);
  if (base === undefined) return undefined;
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : -1;
  if (bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  const start = Math.floor(base / size) * size;
  return { start, end: start + size - 1 };
}

const formatIpv4 = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");

const ENTRA_INTERVALS: readonly Interval[] = ENTRA_IPV4_RANGES.map((r) => ipv4Interval(r) as Interval);

const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const texts = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const ids = (v: unknown): string[] =>
  (Array.isArray(v) ? v : []).flatMap((x) => (isObject(x) && typeof x["id"] === "string" ? [x["id"].toLowerCase()] : []));

/** The single field and its plural list together (Azure fills one or the other). */
const both = (p: Json, single: string, plural: string): string[] => [...(text(p[single]) !== undefined ? [text(p[single]) as string] : []), ...texts(p[plural])];

function portMatches(spec: string, port: number): boolean {
  const s = spec.trim();
  if (s === "*") return true;
  const range = /^(\d+)\s*-\s*(\d+)$/.exec(s);
  if (range) return Number(range[1]) <= port && port <= Number(range[2]);
  return /^\d+$/.test(s) && Number(s) === port;
}

function sourceMatches(p: Json, path: EgressPath): boolean {
  const asgs = new Set((path.applicationSecurityGroups ?? []).map((a) => a.toLowerCase()));
  if (ids(p["sourceApplicationSecurityGroups"]).some((a) => asgs.has(a))) return true;
  const ip = path.privateIp !== undefined ? parseIpv4(path.privateIp) : undefined;
  return both(p, "sourceAddressPrefix", "sourceAddressPrefixes").some((s) => {
    const tag = s.trim().toLowerCase();
    if (tag === "*" || tag === "virtualnetwork") return true;
    const prefix = ipv4Interval(s);
    return prefix !== undefined && ip !== undefined && prefix.start <= ip && ip <= prefix.end;
  });
}

function destinationMatches(p: Json, address: number): boolean {
  return both(p, "destinationAddressPrefix", "destinationAddressPrefixes").some((d) => {
    if (TAGS_HOLDING_ENTRA.has(d.trim().toLowerCase())) return true;
    const prefix = ipv4Interval(d);
    return prefix !== undefined && prefix.start <= address && address <= prefix.end;
  });
}

/** Outbound rules that match TCP 443 from this NIC, in processing order (own rules, then defaults). */
function candidateRules(group: EgressGroup, path: EgressPath): EgressRule[] {
  const outbound = (rules: readonly EgressRule[]) =>
    rules
      .filter((r) => {
        const p = isObject(r.properties) ? r.properties : {};
        const protocol = (text(p["protocol"]) ?? "*").toLowerCase();
        return (
          String(p["direction"] ?? "").toLowerCase() === "outbound" &&
          (protocol === "tcp" || protocol === "*") &&
          both(p, "destinationPortRange", "destinationPortRanges").some((spec) => portMatches(spec, 443)) &&
          sourceMatches(p, path)
        );
      })
      .sort((a, b) => priorityOf(a) - priorityOf(b));
  return [...outbound(group.securityRules), ...outbound(group.defaultSecurityRules)];
}

const priorityOf = (r: EgressRule): number => {
  const p = isObject(r.properties) ? r.properties["priority"] : undefined;
  return typeof p === "number" ? p : Number.MAX_SAFE_INTEGER;
};

/**
 * Azure's verdict for TCP 443 from the VM to every Entra ID address. Exact over the ranges: the
 * rules' IPv4 prefixes cut them into pieces no rule splits, and one address per piece is evaluated.
 */
export function entraHttpsVerdict(path: EgressPath): EgressVerdict {
  const groups = [path.nicGroup, path.subnetGroup].filter((g): g is EgressGroup => g !== undefined).map((g) => ({ group: g, rules: candidateRules(g, path) }));
  for (const range of ENTRA_INTERVALS) {
    const cuts = new Set<number>([range.start]);
    for (const { rules } of groups) {
      for (const r of rules) {
        const p = isObject(r.properties) ? r.properties : {};
        for (const d of both(p, "destinationAddressPrefix", "destinationAddressPrefixes")) {
          const prefix = ipv4Interval(d);
          if (!prefix) continue;
          if (prefix.start > range.start && prefix.start <= range.end) cuts.add(prefix.start);
          if (prefix.end + 1 > range.start && prefix.end + 1 <= range.end) cuts.add(prefix.end + 1);
        }
      }
    }
    for (const address of [...cuts].sort((a, b) => a - b)) {
      for (const { group, rules } of groups) {
        const first = rules.find((r) => destinationMatches(isObject(r.properties) ? r.properties : {}, address));
        // No matching rule at all cannot happen with the default rules present (DenyAllOutBound); a group without them denies.
        const access = first && isObject(first.properties) ? String(first.properties["access"] ?? "").toLowerCase() : "deny";
        if (access !== "allow") return { allowed: false, groupId: group.id, ruleId: first?.id ?? `${group.id} (no rule matched)`, address: formatIpv4(address) };
      }
    }
  }
  return { allowed: true };
}

const refId = (v: unknown): string | undefined => (isObject(v) && typeof v["id"] === "string" ? v["id"] : undefined);

const primaryOf = (items: readonly Json[]): Json | undefined =>
  items.find((i) => isObject(i) && (i["primary"] === true || (isObject(i["properties"]) && i["properties"]["primary"] === true))) ?? items[0];

function groupFrom(network: ReadonlyMap<string, NetworkResource>, id: string): EgressGroup | undefined {
  const found = network.get(id.toLowerCase());
  if (!found || found.kind !== "networkSecurityGroups") return undefined;
  const rendered = renderNetworkResource(found);
  const props = isObject(rendered) && isObject(rendered["properties"]) ? rendered["properties"] : {};
  const rules = (v: unknown): EgressRule[] =>
    (Array.isArray(v) ? v : []).map((r) => (isObject(r) ? { id: String(r["id"] ?? r["name"] ?? "rule"), properties: isObject(r["properties"]) ? r["properties"] : {} } : { id: "rule", properties: {} }));
  return { id: found.id, securityRules: rules(props["securityRules"]), defaultSecurityRules: rules(props["defaultSecurityRules"]) };
}

/**
 * The VM's path to Entra ID from what the emulator holds: primary NIC → its group, and its primary IP
 * configuration's subnet → that subnet's group. Undefined when the VM names no NIC or a named NIC,
 * subnet or group is not seeded: the emulator then does not judge the network (the per-VM
 * `outboundNetwork` flag alone decides, as before network resources existed).
 */
export function egressPathOf(vm: VmRecord, network: ReadonlyMap<string, NetworkResource>): EgressPath | undefined {
  const profile = isObject(vm.properties["networkProfile"]) ? vm.properties["networkProfile"] : {};
  const nics = Array.isArray(profile["networkInterfaces"]) ? profile["networkInterfaces"] : [];
  const nicId = refId(primaryOf(nics));
  if (!nicId) return undefined;
  const nic = network.get(nicId.toLowerCase());
  if (!nic || nic.kind !== "networkInterfaces") return undefined;
  const rendered = renderNetworkResource(nic);
  const nicProps = isObject(rendered) && isObject(rendered["properties"]) ? rendered["properties"] : {};
  const configs = Array.isArray(nicProps["ipConfigurations"]) ? nicProps["ipConfigurations"] : [];
  const primary = primaryOf(configs);
  const cfg = isObject(primary) && isObject(primary["properties"]) ? primary["properties"] : {};

  const nicGroupId = refId(nicProps["networkSecurityGroup"]);
  const nicGroup = nicGroupId ? groupFrom(network, nicGroupId) : undefined;
  if (nicGroupId && !nicGroup) return undefined;

  let subnetGroup: EgressGroup | undefined;
  const subnetId = refId(cfg["subnet"]);
  if (subnetId) {
    const subnet = network.get(subnetId.toLowerCase());
    if (!subnet || subnet.kind !== "subnets") return undefined;
    const subnetGroupId = refId(subnet.properties["networkSecurityGroup"]);
    subnetGroup = subnetGroupId ? groupFrom(network, subnetGroupId) : undefined;
    if (subnetGroupId && !subnetGroup) return undefined;
  }
  const privateIp = text(cfg["privateIPAddress"]);
  return {
    ...(nicGroup ? { nicGroup } : {}),
    ...(subnetGroup ? { subnetGroup } : {}),
    ...(privateIp !== undefined ? { privateIp } : {}),
    applicationSecurityGroups: ids(cfg["applicationSecurityGroups"]),
  };
}

/** The verdict for a VM, or undefined when its network is not (fully) known to the emulator. */
export function entraHttpsVerdictFor(vm: VmRecord, network: ReadonlyMap<string, NetworkResource>): EgressVerdict | undefined {
  const path = egressPathOf(vm, network);
  return path ? entraHttpsVerdict(path) : undefined;
}
