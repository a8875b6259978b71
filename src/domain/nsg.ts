/**
 * Preflight (issue 12): would a network security group stop the login extension from reaching Entra
 * ID on TCP 443? Only a clear answer counts: Azure evaluates a group's rules by priority (lowest
 * number first) and the first rule that matches decides; for traffic leaving a VM, the NIC's group and
 * then the subnet's must both allow it (Microsoft Learn, "How network security groups filter network
 * traffic"). A rule whose source or destination this cannot judge (an IP prefix, an application
 * security group) is skipped, not guessed: it could be the one that decides, so a verdict reached past
 * it is no longer clear, and the install goes ahead (the extension's own diagnosis still applies).
 * Azure Firewall, user-defined routes and proxies are not visible here at all.
 */

/** A security rule as ARM returns it (`securityRules[]` and `defaultSecurityRules[]`), properties flattened. */
export interface NsgRule {
  readonly id?: string;
  readonly name: string;
  readonly direction: string;
  readonly access: string;
  readonly priority: number;
  readonly protocol?: string;
  readonly sourceAddressPrefix?: string;
  readonly sourceAddressPrefixes?: readonly string[];
  readonly sourceApplicationSecurityGroups?: readonly unknown[];
  readonly destinationAddressPrefix?: string;
  readonly destinationAddressPrefixes?: readonly string[];
  readonly destinationApplicationSecurityGroups?: readonly unknown[];
  readonly destinationPortRange?: string;
  readonly destinationPortRanges?: readonly string[];
}

export interface NetworkSecurityGroup {
  readonly id: string;
  readonly rules: readonly NsgRule[];
}

export type OutboundVerdict =
  | { readonly verdict: "allowed"; readonly ruleId: string }
  | { readonly verdict: "blocked"; readonly ruleId: string; readonly nsgId: string }
  | { readonly verdict: "unknown"; readonly why: string };

/** Destinations that include Entra ID's sign-in endpoints: its service tag, the Internet tag, anything. */
const ENTRA_DESTINATIONS = new Set(["*", "internet", "azureactivedirectory", "0.0.0.0/0"]);
/** Sources that include the VM itself whatever its address. */
const ANY_SOURCE = new Set(["*", "virtualnetwork", "0.0.0.0/0"]);

/** The verdict of one group for TCP `port` from the VM to Entra ID. */
export function groupVerdict(nsg: NetworkSecurityGroup, port = 443): OutboundVerdict {
  const outbound = nsg.rules.filter((r) => r.direction.toLowerCase() === "outbound").sort((a, b) => a.priority - b.priority);
  let skipped: NsgRule | undefined;
  for (const rule of outbound) {
    const match = matches(rule, port);
    if (match === "no") continue;
    if (match === "unclear") {
      skipped ??= rule;
      continue;
    }
    const ruleId = rule.id ?? `${nsg.id}/securityRules/${rule.name}`;
    if (skipped) return { verdict: "unknown", why: `rule ${skipped.name} (priority ${skipped.priority}) may decide first and cannot be judged from the rule alone` };
    return rule.access.toLowerCase() === "deny" ? { verdict: "blocked", ruleId, nsgId: nsg.id } : { verdict: "allowed", ruleId };
  }
  // No rule at all (a group always carries its default rules; without them this cannot tell).
  return { verdict: "unknown", why: skipped ? `rule ${skipped.name} cannot be judged` : "the group has no outbound rule" };
}

/**
 * The VM's verdict: the NIC's group, then the subnet's (either may be absent). Blocked if any group
 * clearly blocks; allowed only if every present group clearly allows.
 */
export function outboundToEntra(groups: readonly (NetworkSecurityGroup | undefined)[], port = 443): OutboundVerdict {
  const present = groups.filter((g): g is NetworkSecurityGroup => g !== undefined);
  if (present.length === 0) return { verdict: "unknown", why: "no network security group applies" };
  let unknown: OutboundVerdict | undefined;
  let allowed: OutboundVerdict | undefined;
  for (const group of present) {
    const v = groupVerdict(group, port);
    if (v.verdict === "blocked") return v;
    if (v.verdict === "unknown") unknown ??= v;
    else allowed ??= v;
  }
  return unknown ?? (allowed as OutboundVerdict);
}

function matches(rule: NsgRule, port: number): "yes" | "no" | "unclear" {
  const protocol = (rule.protocol ?? "*").toLowerCase();
  if (protocol !== "*" && protocol !== "tcp") return "no";
  const ports = [...(rule.destinationPortRange ? [rule.destinationPortRange] : []), ...(rule.destinationPortRanges ?? [])];
  if (!ports.some((p) => portCovers(p, port))) return "no";
  const destinations = [...(rule.destinationAddressPrefix ? [rule.destinationAddressPrefix] : []), ...(rule.destinationAddressPrefixes ?? [])].map((d) => d.trim().toLowerCase());
  const sources = [...(rule.sourceAddressPrefix ? [rule.sourceAddressPrefix] : []), ...(rule.sourceAddressPrefixes ?? [])].map((s) => s.trim().toLowerCase());
  const destinationKnown = destinations.some((d) => ENTRA_DESTINATIONS.has(d) || d.startsWith("azureactivedirectory."));
  const sourceKnown = sources.some((s) => ANY_SOURCE.has(s));
  if (destinationKnown && sourceKnown) return "yes";
  // Service tags of other services do not hold Entra ID's sign-in endpoints; AzureCloud and the
  // like might, so they stay unclear.
  if (destinations.length > 0 && destinations.every(isDisjointServiceTag)) return "no";
  return "unclear";
}

function portCovers(range: string, port: number): boolean {
  const r = range.trim();
  if (r === "*") return true;
  const m = /^(\d+)(?:-(\d+))?$/.exec(r);
  if (!m) return false;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  return port >= low && port <= high;
}

/** Service tags whose addresses are another service's or private (Microsoft Learn, "Virtual network service tags"). */
const DISJOINT_TAGS = ["virtualnetwork", "azureloadbalancer", "storage", "sql", "azuremonitor", "azurekeyvault", "eventhub", "servicebus", "azurecosmosdb", "azurebackup", "azurecontainerregistry", "microsoftcontainerregistry"];

function isDisjointServiceTag(destination: string): boolean {
  const tag = destination.split(".")[0] ?? "";
  return DISJOINT_TAGS.includes(tag);
}

/** One network interface of the VM as the preflight read it: its group and its primary subnet's group. */
export interface NicPath {
  readonly id: string;
  /** The VM's primary NIC (the one its default route leaves through); a VM with one NIC: that one. */
  readonly primary: boolean;
  readonly nsg?: NetworkSecurityGroup;
  readonly subnetId?: string;
  readonly subnetNsg?: NetworkSecurityGroup;
}

/** What the preflight read of the VM's network, and what it could not read (not found, not allowed). */
export interface NetworkPath {
  readonly nics: readonly NicPath[];
  /** Resource ids the VM or a NIC refers to that could not be read, with why. */
  readonly unreadable: readonly { readonly id: string; readonly why: string }[];
}

/**
 * The preflight's verdict for the VM: its primary NIC decides (Azure sends a VM's outbound traffic
 * through the primary NIC unless the guest routes otherwise). A clear block stands even when
 * something else could not be read, since both groups must allow; anything unread makes an
 * "allowed" unknown instead.
 */
export function preflightVerdict(path: NetworkPath, port = 443): OutboundVerdict {
  const primary = path.nics.find((n) => n.primary) ?? (path.nics.length === 1 ? path.nics[0] : undefined);
  const unread = path.unreadable.length > 0 ? `could not read ${path.unreadable.map((u) => `${u.id} (${u.why})`).join(", ")}` : undefined;
  if (!primary) {
    if (path.nics.length === 0) return { verdict: "unknown", why: unread ?? "the VM lists no network interface" };
    // Several NICs and none marked primary: only a block on every one of them is clear.
    const verdicts = path.nics.map((n) => outboundToEntra([n.nsg, n.subnetNsg], port));
    const firstBlock = verdicts.find((v) => v.verdict === "blocked");
    if (firstBlock && verdicts.every((v) => v.verdict === "blocked")) return firstBlock;
    return { verdict: "unknown", why: "several network interfaces, none marked primary" };
  }
  const verdict = outboundToEntra([primary.nsg, primary.subnetNsg], port);
  if (verdict.verdict === "blocked") return verdict;
  if (unread) return { verdict: "unknown", why: unread };
  return verdict;
}
