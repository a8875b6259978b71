import {
  CLIENT_CODENAMES,
  CLIENT_RELEASE_BUILDS,
  SERVER_RELEASE_BUILDS,
  WINDOWS11_FIRST_BUILD,
  WINDOWS11_RELEASE_BUILDS,
} from "./osPolicy.js";
import type { ImageReference } from "./vm.js";

/**
 * What a VM runs, as far as its marketplace image or its VM agent tells. Windows releases are named
 * in three vocabularies (server years, Windows 10 version names and codenames, builds); everything
 * is brought to `release` (product: "2019", "10", "11"), `version` (Windows 10/11 and semi-annual
 * server version, "1809", "22h2") and `build`, which is what the policy compares.
 */
export interface OsInfo {
  readonly family: "server" | "client" | "unknown";
  /** Product release: server year ("2019", "2012 R2"), or "10"/"11" for clients. */
  readonly release?: string;
  /** Version name of Windows 10/11 or a semi-annual server: "1809", "22h2". */
  readonly version?: string;
  readonly build?: number;
  readonly edition?: string;
  readonly source: "image" | "agent";
  /** Server Core (no Desktop Experience). */
  readonly serverCore?: boolean;
}

/** Publishers whose marketplace images are Linux only. */
const LINUX_PUBLISHERS = new Set([
  "canonical",
  "redhat",
  "suse",
  "openlogic",
  "debian",
  "credativ",
  "kinvolk",
  "almalinux",
  "resf",
  "erockyenterprisesoftwarefoundationinc1653071250513",
  "microsoftcblmariner",
  "microsoft-cbl-mariner",
]);

export function isLinuxPublisher(publisher: string | undefined): boolean {
  return LINUX_PUBLISHERS.has((publisher ?? "").trim().toLowerCase());
}

/**
 * A marketplace image is named by publisher/offer/sku. Custom and gallery images carry a resource
 * id instead, and their reference says nothing about the OS inside.
 */
export function isMarketplaceImage(ref: ImageReference | undefined): ref is ImageReference & { publisher: string } {
  if (!ref) return false;
  if (ref.id || ref.sharedGalleryImageId || ref.communityGalleryImageId) return false;
  return Boolean(ref.publisher && ref.offer && ref.sku);
}

const KNOWN_SERVER_YEARS = Object.keys(SERVER_RELEASE_BUILDS).map(Number);

function serverYearIn(text: string): number | undefined {
  // SQL Server images name two years (`sql2022-ws2019`): the Windows one follows `ws`.
  const ws = /ws(20\d\d)(?!\d)/.exec(text);
  const candidates = ws ? [ws[1]] : [...text.matchAll(/(?<!\d)(20\d\d)(?!\d)/g)].map((m) => m[1]);
  for (const c of candidates) {
    const year = Number(c);
    // `2004` is a semi-annual version, not a year; years after the newest known one are releases to come.
    if (KNOWN_SERVER_YEARS.includes(year) || year > Math.max(...KNOWN_SERVER_YEARS)) return year;
  }
  return undefined;
}

function tokensOf(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((t) => t !== "");
}

/** Windows 10/11 version name among the tokens ("rs5" → "1809"). */
function clientVersionIn(tokens: readonly string[], windows11: boolean): string | undefined {
  for (const raw of tokens) {
    const t = raw.replace(/^win1[01]/, "");
    const name = CLIENT_CODENAMES[t] ?? t;
    if (windows11 ? name in WINDOWS11_RELEASE_BUILDS : name in CLIENT_RELEASE_BUILDS) return name;
  }
  return undefined;
}

function clientEdition(tokens: readonly string[]): string | undefined {
  if (tokens.includes("avd") || tokens.includes("evd")) return "Enterprise multi-session";
  if (tokens.includes("ltsc")) return "Enterprise LTSC";
  if (tokens.includes("entn")) return "Enterprise N";
  if (tokens.includes("ent") || tokens.includes("enterprise")) return "Enterprise";
  if (tokens.includes("pron")) return "Pro N";
  if (tokens.includes("pro")) return "Pro";
  return undefined;
}

function serverEdition(text: string): string | undefined {
  const t = text.toLowerCase();
  if (/azure[\s-]*edition/.test(t)) return "Datacenter: Azure Edition";
  if (t.includes("datacenter")) return "Datacenter";
  if (t.includes("standard")) return "Standard";
  if (t.includes("essentials")) return "Essentials";
  return undefined;
}

function serverRelease(year: number, text: string): string {
  return /(?<![a-z])r2(?![a-z0-9])/i.test(text) ? `${year} R2` : String(year);
}

function serverBuild(year: number, text: string): number | undefined {
  if (/(?<![a-z])r2(?![a-z0-9])/i.test(text)) return year === 2008 ? 7601 : year === 2012 ? 9600 : undefined;
  return SERVER_RELEASE_BUILDS[year];
}

function serverFromText(text: string, source: OsInfo["source"], build?: number): OsInfo | undefined {
  const tokens = tokensOf(text);
  const serverCore = tokens.includes("core");
  const edition = serverEdition(text);
  const year = serverYearIn(text.toLowerCase());
  if (year !== undefined) {
    return { family: "server", release: serverRelease(year, text), build: build ?? serverBuild(year, text), edition, source, serverCore };
  }
  // Semi-annual channel servers (`datacenter-core-1809-with-containers`) have a version, no year.
  const version = clientVersionIn(tokens, false);
  const knownBuild = build ?? (version ? CLIENT_RELEASE_BUILDS[version] : undefined);
  if (knownBuild === undefined) return undefined;
  return { family: "server", version: version ?? versionOfBuild(knownBuild), build: knownBuild, edition, source, serverCore };
}

function versionOfBuild(build: number): string | undefined {
  const table = build >= WINDOWS11_FIRST_BUILD ? WINDOWS11_RELEASE_BUILDS : CLIENT_RELEASE_BUILDS;
  return Object.entries(table).find(([, b]) => b === build)?.[0];
}

function clientFromImage(offer: string, sku: string): OsInfo | undefined {
  const text = `${offer} ${sku}`.toLowerCase();
  const tokens = tokensOf(text);
  const edition = clientEdition(tokensOf(sku));
  if (/(?<![a-z0-9])win(dows)?-?7(?![0-9])/.test(text)) return { family: "client", release: "7", build: 7601, edition, source: "image" };
  if (/(?<![a-z0-9])win(dows)?-?8(1|-1)?(?![0-9])/.test(text)) return { family: "client", release: "8.1", build: 9600, edition, source: "image" };
  const windows11 = /(?<![a-z0-9])win(dows)?-?11/.test(text);
  const version = clientVersionIn(tokens, windows11);
  if (windows11) {
    // A Windows 11 sku without a version is at least the first Windows 11 build.
    const build = version ? WINDOWS11_RELEASE_BUILDS[version] : WINDOWS11_FIRST_BUILD;
    return { family: "client", release: "11", version, build, edition, source: "image" };
  }
  if (!version) return undefined;
  return { family: "client", release: "10", version, build: CLIENT_RELEASE_BUILDS[version], edition, source: "image" };
}

/**
 * The OS of a marketplace image, or undefined when the reference does not say (custom and gallery
 * images, unknown publishers, skus this table cannot place).
 */
export function osFromImage(ref: ImageReference | undefined): OsInfo | undefined {
  if (!isMarketplaceImage(ref)) return undefined;
  const publisher = ref.publisher.toLowerCase();
  const offer = (ref.offer ?? "").toLowerCase();
  const sku = (ref.sku ?? "").toLowerCase();
  if (publisher === "microsoftwindowsserver") return serverFromText(`${offer} ${sku}`.replace(/windowsserver(semiannual)?/, ""), "image");
  if (publisher === "microsoftwindowsdesktop") return clientFromImage(offer, sku);
  // Other publishers build on Windows and say so in the offer (`sql2019-ws2019`, `vs-2022-…-win11`).
  if (/(?<![a-z])ws20\d\d/.test(offer) || /windows-?server-?20\d\d/.test(`${offer} ${sku}`)) {
    const os = serverFromText(`${offer} ${sku}`, "image");
    return os ? { ...os, edition: undefined } : undefined;
  }
  if (/(?<![a-z0-9])win(dows)?-?1[01](?![0-9])/.test(`${offer} ${sku}`)) {
    const os = clientFromImage(offer, sku);
    return os ? { ...os, edition: undefined } : undefined;
  }
  return undefined;
}

export type AgentOs = { readonly kind: "windows"; readonly os: OsInfo } | { readonly kind: "not-windows" } | { readonly kind: "unrecognized" };

/** Build number from `10.0.20348.2340` or `Microsoft Windows NT 10.0.14393.0`. */
export function buildOfVersion(osVersion: string | undefined): number | undefined {
  const m = /(?<!\d)(\d+)\.(\d+)\.(\d+)/.exec(osVersion ?? "");
  if (!m) return undefined;
  const build = Number(m[3]);
  return Number.isSafeInteger(build) ? build : undefined;
}

/**
 * The OS as the VM agent reports it (`osName` "Windows Server 2022 Datacenter", `osVersion`
 * "10.0.20348.2340"), or undefined when the agent has not reported. Windows 11 often calls itself
 * "Windows 10" (the registry product name was never changed); the build tells them apart.
 */
export function osFromAgent(osName: string | undefined, osVersion: string | undefined): AgentOs | undefined {
  const name = (osName ?? "").trim();
  if (name === "") return undefined;
  if (!/windows/i.test(name)) return { kind: "not-windows" };
  const build = buildOfVersion(osVersion);
  if (/server/i.test(name)) {
    const os = serverFromText(name, "agent", build);
    return os ? { kind: "windows", os } : { kind: "unrecognized" };
  }
  const client = /windows\s*(7|8\.1|10|11)(?![0-9])/i.exec(name);
  if (!client || build === undefined) return { kind: "unrecognized" };
  const named = client[1] ?? "";
  const release = named === "10" && build >= WINDOWS11_FIRST_BUILD ? "11" : named;
  const edition = name.slice((client.index ?? 0) + client[0].length).trim() || undefined;
  return { kind: "windows", os: { family: "client", release, version: versionOfBuild(build), build, edition, source: "agent" } };
}

/**
 * Azure's Arm sizes carry a `p` among the feature letters after the vCPU count (Dpsv5, Epdsv5,
 * Dplsv6, Bpsv2): `Standard_D2ps_v5`, `Standard_E4pds_v5`, `Standard_D2pls_v6`, `Standard_B2pts_v2`.
 */
export function isArm64Size(vmSize: string | undefined): boolean {
  return /^standard_[bde]\d+(-\d+)?[a-z]*p[a-z]*_v\d+$/i.test((vmSize ?? "").trim());
}

export function isArm64Image(ref: ImageReference | undefined): boolean {
  return /arm64/i.test(`${ref?.offer ?? ""} ${ref?.sku ?? ""}`);
}
