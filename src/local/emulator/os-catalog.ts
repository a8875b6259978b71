import type { Json } from "./http-io.js";
import { isObject } from "./http-io.js";

/** What the guest agent reports about the OS: instance view `osName` / `osVersion`. */
export interface GuestOs {
  readonly osName: string;
  readonly osVersion: string;
}

export type OsType = "Windows" | "Linux";

const WINDOWS_SERVER: ReadonlyArray<[RegExp, GuestOs]> = [
  [/^2008-r2/i, { osName: "Windows Server 2008 R2 Datacenter", osVersion: "6.1.7601.24546" }],
  [/^2012-r2/i, { osName: "Windows Server 2012 R2 Datacenter", osVersion: "6.3.9600.21620" }],
  [/^2012/i, { osName: "Windows Server 2012 Datacenter", osVersion: "6.2.9200.24523" }],
  [/^2016/i, { osName: "Windows Server 2016 Datacenter", osVersion: "10.0.14393.7428" }],
  [/^2019/i, { osName: "Windows Server 2019 Datacenter", osVersion: "10.0.17763.6532" }],
  [/^2022/i, { osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2849" }],
  [/^2025/i, { osName: "Windows Server 2025 Datacenter", osVersion: "10.0.26100.2314" }],
];

const WINDOWS_CLIENT: ReadonlyArray<[RegExp, GuestOs]> = [
  [/rs5|1809/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.17763.6532" }],
  [/rs4|1803/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.17134.2208" }],
  [/rs3|1709/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.16299.2166" }],
  [/1909/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.18363.2274" }],
  [/20h2/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.19042.2965" }],
  [/21h2/i, { osName: "Windows 10 Enterprise", osVersion: "10.0.19044.5131" }],
  [/22h2/i, { osName: "Windows 10 Pro", osVersion: "10.0.19045.5131" }],
];

const WINDOWS_11: ReadonlyArray<[RegExp, GuestOs]> = [
  [/21h2/i, { osName: "Windows 11 Enterprise", osVersion: "10.0.22000.2538" }],
  [/22h2/i, { osName: "Windows 11 Enterprise", osVersion: "10.0.22621.4460" }],
  [/23h2/i, { osName: "Windows 11 Enterprise", osVersion: "10.0.22631.4460" }],
  [/24h2/i, { osName: "Windows 11 Enterprise", osVersion: "10.0.26100.2314" }],
];

function imageReference(properties: Json): Json | undefined {
  const storage = properties["storageProfile"];
  if (!isObject(storage)) return undefined;
  const ref = storage["imageReference"];
  return isObject(ref) ? ref : undefined;
}

/** Compute fills `osDisk.osType` from the image; Linux publishers are everything but Microsoft's Windows ones. */
export function osTypeOf(properties: Json): OsType {
  const storage = properties["storageProfile"];
  const osDisk = isObject(storage) ? storage["osDisk"] : undefined;
  const declared = isObject(osDisk) ? osDisk["osType"] : undefined;
  if (typeof declared === "string") return declared.toLowerCase() === "linux" ? "Linux" : "Windows";
  const publisher = String(imageReference(properties)?.["publisher"] ?? "");
  if (publisher === "") {
    const osProfile = properties["osProfile"];
    return isObject(osProfile) && isObject(osProfile["linuxConfiguration"]) && !isObject(osProfile["windowsConfiguration"])
      ? "Linux"
      : "Windows";
  }
  return /windows|microsoftsqlserver|microsoftvisualstudio/i.test(publisher) ? "Windows" : "Linux";
}

/**
 * A plausible guest OS for a marketplace image; what the agent of a real VM of that image reports.
 * Custom and gallery images carry no marketplace reference: they get a generic answer that tests
 * override through the admin API's VM simulation.
 */
export function guestOsFor(properties: Json): GuestOs {
  const ref = imageReference(properties);
  const offer = String(ref?.["offer"] ?? "");
  const sku = String(ref?.["sku"] ?? "");
  const pick = (table: ReadonlyArray<[RegExp, GuestOs]>): GuestOs | undefined => table.find(([re]) => re.test(sku))?.[1];
  if (osTypeOf(properties) === "Linux") return linuxGuestFor(String(ref?.["publisher"] ?? ""), offer, sku);
  if (/windows-11|windows11/i.test(offer) || /win11/i.test(sku)) return pick(WINDOWS_11) ?? { osName: "Windows 11 Enterprise", osVersion: "10.0.22631.4460" };
  if (/windows-10|windows10/i.test(offer) || /win10|rs5/i.test(sku)) return pick(WINDOWS_CLIENT) ?? { osName: "Windows 10 Enterprise", osVersion: "10.0.19045.5131" };
  return pick(WINDOWS_SERVER) ?? { osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2849" };
}

/** The newest minor a major-only sku (`9-lvm-gen2`) resolves to, as `latest` would. */
const LATEST_MINOR: Readonly<Record<string, string>> = { "7": "7.9", "8": "8.10", "9": "9.4" };

/**
 * What WALinuxAgent reports for a Linux image: its distribution id and version (`ubuntu`/`22.04`,
 * `rhel`/`9.4`, `centos`/`7.9.2009`, `sles`/`15.5`, `debian`/`12`, `mariner`/`2.0`). The ids follow
 * the agent's distro detection; the versions are plausible values for the sku, not a catalogue.
 */
export function linuxGuestFor(publisher: string, offer: string, sku: string): GuestOs {
  const pub = publisher.toLowerCase();
  const o = offer.toLowerCase();
  const k = sku.toLowerCase();
  const dotted = (text: string): string | undefined => {
    const m = /^(?:ol)?(\d)[._]?(\d{1,2})?(?!\d)/.exec(text);
    if (!m) return undefined;
    return m[2] !== undefined ? `${m[1]}.${m[2]}` : LATEST_MINOR[m[1] ?? ""] ?? `${m[1]}.0`;
  };
  if (pub === "redhat") return { osName: "rhel", osVersion: dotted(k) ?? "9.4" };
  if (pub === "openlogic" || o.includes("centos")) return { osName: "centos", osVersion: `${dotted(k) ?? "7.9"}.2009` };
  if (pub === "almalinux" || o.includes("almalinux")) return { osName: "almalinux", osVersion: dotted(k) ?? "9.4" };
  if (o.includes("rocky")) return { osName: "rocky", osVersion: dotted(k) ?? "9.4" };
  if (pub === "oracle") return { osName: "ol", osVersion: dotted(k) ?? "9.4" };
  if (pub === "debian") return { osName: "debian", osVersion: /debian-(\d+)/.exec(o)?.[1] ?? "12" };
  if (pub === "suse") {
    const m = /(\d+)-sp(\d+)/.exec(o);
    return { osName: o.includes("opensuse") ? "opensuse-leap" : "sles", osVersion: m ? `${m[1]}.${m[2]}` : "15.5" };
  }
  if (pub.includes("mariner")) return /azure-linux-3/.test(`${o} ${k}`) ? { osName: "azurelinux", osVersion: "3.0" } : { osName: "mariner", osVersion: "2.0" };
  const version = /(\d\d)[._](\d\d)/.exec(k);
  return { osName: o.includes("ubuntu") || o === "" ? "ubuntu" : o, osVersion: version ? `${version[1]}.${version[2]}` : "22.04" };
}

/** The build number of an osVersion such as "10.0.17763.6532" or "Microsoft Windows NT 10.0.14393.0". */
export function windowsBuild(osVersion: string): number | undefined {
  const match = /(\d+)\.(\d+)\.(\d+)/.exec(osVersion);
  return match?.[3] ? Number(match[3]) : undefined;
}
