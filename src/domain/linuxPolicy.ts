import { isLinuxPublisher, isMarketplaceImage } from "./osInfo.js";
import type { ImageReference, ObservedExtension, ObservedVm } from "./vm.js";

/**
 * Entra ID SSH login for Linux VMs (`AADSSHLoginForLinux`): which distributions, versions and VM
 * sizes it supports, as policy values.
 *
 * Sources (checked 2026-12):
 *  - [MS-LINUX] Microsoft Learn, "Sign in to a Linux virtual machine in Azure by using Microsoft Entra ID
 *    and OpenSSH" (learn.microsoft.com/entra/identity/devices/howto-vm-sign-in-azure-ad-linux; source
 *    MicrosoftDocs/entra-docs docs/identity/devices/howto-vm-sign-in-azure-ad-linux.md, ms.date 03/07/2025):
 *    the distribution table, "at least 1 GB of memory", Azure Global/Government/21Vianet, outbound
 *    packages.microsoft.com, exit codes 22 and 23, the migration from AADLoginForLinux.
 *  - [TRACKER] Azure/azure-linux-extensions issues #1902 (Oracle Linux, exit 20, packages.microsoft.com 403)
 *    and #1384/#1289 (exit 51, "Package aadlogin is not published for this version of Linux"),
 *    flatcar/Flatcar#664 (exit 51 "Unknown packaging system"): the failure message shape.
 * Architecture is not stated by [MS-LINUX]; the installer logs in [TRACKER] show x86_64 only, so arm64
 * support is *unverified* and refused by default (LinuxPolicy.allowArm64).
 */

/** Distributions the policy can name. `centos` and `flatcar` are recognised only to be refused. */
export type LinuxDistro =
  | "ubuntu"
  | "rhel"
  | "almalinux"
  | "rocky"
  | "oracle"
  | "debian"
  | "sles"
  | "opensuse"
  | "azurelinux"
  | "centos"
  | "flatcar";

export interface LinuxVersion {
  readonly major: number;
  /** Undefined when the source names only the major release (`8-lvm-gen2` tracks the newest 8.x). */
  readonly minor?: number;
}

export interface LinuxOsInfo {
  readonly distro: LinuxDistro;
  readonly version?: LinuxVersion;
  readonly source: "image" | "agent";
}

/** A supported range: from `from` up to `to` (inclusive); no `to` means "and later". */
export interface VersionRange {
  readonly from: LinuxVersion;
  readonly to?: LinuxVersion;
}

export interface LinuxPolicy {
  /** Whether Linux VMs are enforced at all (ENFORCE_LINUX). Off: they are `not-windows` as before. */
  readonly enforce: boolean;
  /** Supported distributions and their version ranges; a distribution not listed is unsupported. */
  readonly distros: Readonly<Partial<Record<LinuxDistro, readonly VersionRange[]>>>;
  /** [MS-LINUX]: "the VM must have at least 1 GB of memory allocated or the installation will fail". */
  readonly minMemoryGiB: number;
  /** Unverified either way (see above): refused unless allowed. */
  readonly allowArm64: boolean;
}

const v = (major: number, minor?: number): LinuxVersion => (minor === undefined ? { major } : { major, minor });

/**
 * [MS-LINUX]'s table, ms.date 03/07/2025:
 * AlmaLinux 8, 9 · Azure Linux (CBL-Mariner 2.0, Azure Linux 3.0) · Debian 9–12 · openSUSE Leap 42.3,
 * 15.1 to 15.5, 15.6+ · Oracle Linux 8, 9 · RHEL 7.4–7.9, 8.3+, 9.0+ · Rocky 8, 9 · SLES 12, 15.1 to 15.5,
 * 15.6+ · Ubuntu 16.04 to 24.04. CentOS is no longer listed (earlier versions of the page had it).
 * The newest listed release is open-ended ("and later"): a release the page has not caught up with
 * yet (Ubuntu 26.04, Debian 13) is allowed; that it works is *unverified*.
 * Note from the page: SUSE's 15.6 broke compatibility and the extension always installs the newest
 * package, so SLES/openSUSE 15.1–15.5 may need a pinned `aadsshlogin` package; they stay listed.
 */
export const SUPPORTED_LINUX_DISTROS: Readonly<Partial<Record<LinuxDistro, readonly VersionRange[]>>> = {
  ubuntu: [{ from: v(16, 4) }],
  rhel: [{ from: v(7, 4), to: v(7, 9) }, { from: v(8, 3) }],
  almalinux: [{ from: v(8) }],
  rocky: [{ from: v(8) }],
  oracle: [{ from: v(8) }],
  debian: [{ from: v(9) }],
  sles: [{ from: v(12), to: v(12, 99) }, { from: v(15, 1) }],
  opensuse: [{ from: v(42, 3), to: v(42, 3) }, { from: v(15, 1), to: v(15, 99) }],
  azurelinux: [{ from: v(2) }],
};

export const DEFAULT_LINUX_POLICY: LinuxPolicy = {
  enforce: false,
  distros: SUPPORTED_LINUX_DISTROS,
  minMemoryGiB: 1,
  allowArm64: false,
};

export const DISTRO_NAMES: Readonly<Record<LinuxDistro, string>> = {
  ubuntu: "Ubuntu",
  rhel: "Red Hat Enterprise Linux",
  almalinux: "AlmaLinux",
  rocky: "Rocky Linux",
  oracle: "Oracle Linux",
  debian: "Debian",
  sles: "SUSE Linux Enterprise Server",
  opensuse: "openSUSE Leap",
  azurelinux: "Azure Linux",
  centos: "CentOS",
  flatcar: "Flatcar Container Linux",
};

export function showVersion(version: LinuxVersion | undefined): string {
  if (!version) return "";
  return version.minor === undefined ? String(version.major) : `${version.major}.${version.minor}`;
}

/** "Ubuntu 22.04", "Red Hat Enterprise Linux 9.4", "CentOS 7.9"; Ubuntu versions keep their two-digit month. */
export function describeLinux(os: LinuxOsInfo): string {
  const version = os.version
    ? os.distro === "ubuntu" && os.version.minor !== undefined
      ? `${os.version.major}.${String(os.version.minor).padStart(2, "0")}`
      : showVersion(os.version)
    : undefined;
  return [DISTRO_NAMES[os.distro], version].filter(Boolean).join(" ");
}

function compare(a: LinuxVersion, b: LinuxVersion): number {
  if (a.major !== b.major) return a.major - b.major;
  return (a.minor ?? 0) - (b.minor ?? 0);
}

export type VersionVerdict = "supported" | "below" | "undecided";

/**
 * Whether a version falls in the supported ranges. A version known only by its major release is
 * supported when every minor of that major is (`Debian 12`, `RHEL 9`), below when none is
 * (`RHEL 6`), and undecided when it depends on the minor (`RHEL 8` without a minor: 8.0–8.2 are not
 * supported, 8.3+ are): the VM agent's report decides it then.
 */
export function judgeVersion(version: LinuxVersion, ranges: readonly VersionRange[]): VersionVerdict {
  if (version.minor !== undefined) {
    return ranges.some((r) => compare(version, r.from) >= 0 && (!r.to || compare(version, r.to) <= 0)) ? "supported" : "below";
  }
  const lowest = { major: version.major, minor: 0 };
  const highest = { major: version.major, minor: Number.MAX_SAFE_INTEGER };
  const inRange = (x: LinuxVersion) => ranges.some((r) => compare(x, r.from) >= 0 && (!r.to || compare(x, r.to) <= 0));
  if (inRange(lowest)) return "supported";
  const touches = ranges.some((r) => (r.to ? compare(r.to, lowest) >= 0 : true) && compare(r.from, highest) <= 0);
  return touches ? "undecided" : "below";
}

function parseVersion(text: string): LinuxVersion | undefined {
  const m = /(?<!\d)(\d{1,2})(?:[._-](\d{1,2}))?(?!\d)/.exec(text);
  if (!m) return undefined;
  return v(Number(m[1]), m[2] !== undefined ? Number(m[2]) : undefined);
}

const UBUNTU_CODENAMES: Readonly<Record<string, LinuxVersion>> = {
  trusty: v(14, 4),
  xenial: v(16, 4),
  bionic: v(18, 4),
  focal: v(20, 4),
  jammy: v(22, 4),
  noble: v(24, 4),
};

function ubuntuVersion(offer: string, sku: string): LinuxVersion | undefined {
  // `UbuntuServer/18.04-LTS`, `0001-com-ubuntu-server-jammy/22_04-lts-gen2`, `ubuntu-24_04-lts/server`.
  for (const text of [sku, offer]) {
    const m = /(?<!\d)(\d\d)[._](\d\d)(?!\d)/.exec(text);
    if (m) return v(Number(m[1]), Number(m[2]));
  }
  for (const [name, version] of Object.entries(UBUNTU_CODENAMES)) if (`${offer} ${sku}`.includes(name)) return version;
  return undefined;
}

/** RHEL/CentOS/Oracle skus: `7.9`, `7_9`, `86-gen2` (8.6), `810-gen2` (8.10), `9-lvm-gen2`, `ol94-lvm-gen2`. */
function rhelLikeVersion(sku: string): LinuxVersion | undefined {
  const s = sku.replace(/^ol/, "").replace(/^cent[o]?s?-?/, "");
  const dotted = /^(\d)[._](\d{1,2})(?!\d)/.exec(s);
  if (dotted) return v(Number(dotted[1]), Number(dotted[2]));
  const packed = /^(\d)(\d{1,2})(?!\d)/.exec(s);
  if (packed) return v(Number(packed[1]), Number(packed[2]));
  const major = /^(\d)(?!\d)/.exec(s);
  return major ? v(Number(major[1])) : undefined;
}

/**
 * The distribution and version of a marketplace image by publisher/offer/sku, or undefined when the
 * reference does not say (custom and gallery images, publishers and skus this table cannot place).
 */
export function linuxFromImage(ref: ImageReference | undefined): LinuxOsInfo | undefined {
  if (!isMarketplaceImage(ref)) return undefined;
  const publisher = ref.publisher.toLowerCase();
  const offer = (ref.offer ?? "").toLowerCase();
  const sku = (ref.sku ?? "").toLowerCase();
  const image = (distro: LinuxDistro, version: LinuxVersion | undefined): LinuxOsInfo =>
    version ? { distro, version, source: "image" } : { distro, source: "image" };

  if (publisher === "canonical" || offer.includes("ubuntu")) return image("ubuntu", ubuntuVersion(offer, sku));
  if (publisher === "redhat" && /^rhel/.test(offer)) return image("rhel", rhelLikeVersion(sku));
  if (publisher === "openlogic" || /centos/.test(offer)) return image("centos", rhelLikeVersion(sku));
  if (publisher === "almalinux" || offer.includes("almalinux")) return image("almalinux", rhelLikeVersion(sku));
  if (offer.includes("rocky")) return image("rocky", rhelLikeVersion(sku));
  if (publisher === "oracle" && offer.includes("oracle-linux")) return image("oracle", rhelLikeVersion(sku));
  if (publisher === "debian" || publisher === "credativ") {
    const m = /debian-?(\d+)/.exec(offer) ?? /^(\d+)/.exec(sku);
    return image("debian", m ? v(Number(m[1])) : undefined);
  }
  if (publisher === "suse") {
    // `sles-15-sp5`, `sles-12-sp5-byos`, `opensuse-leap-15-5`.
    const sles = /sles(?:-sap)?(?:-byos)?-(\d+)(?:-sp(\d+))?/.exec(offer);
    if (sles) return image("sles", v(Number(sles[1]), Number(sles[2] ?? 0)));
    const leap = /opensuse-leap-(\d+)-(\d+)/.exec(offer);
    if (leap) return image("opensuse", v(Number(leap[1]), Number(leap[2])));
    return undefined;
  }
  if (publisher === "microsoftcblmariner" || publisher === "microsoft-cbl-mariner") {
    // `cbl-mariner/cbl-mariner-2-gen2` is CBL-Mariner 2.0; `azure-linux-3/azure-linux-3-gen2` is Azure Linux 3.0.
    const m = /(?:mariner|azure-linux)-?(\d)/.exec(`${offer} ${sku}`);
    return image("azurelinux", m ? v(Number(m[1])) : undefined);
  }
  if (publisher === "kinvolk" || offer.includes("flatcar")) return image("flatcar", undefined);
  return undefined;
}

export type AgentLinux = { readonly kind: "linux"; readonly os: LinuxOsInfo } | { readonly kind: "windows" } | { readonly kind: "unrecognized" };

/**
 * The VM agent's `osName`/`osVersion` for a Linux guest. WALinuxAgent reports the distribution id it
 * detects (`ubuntu`/`22.04`, `rhel`/`9.4`, `redhat`, `centos`, `almalinux`, `rocky`, `debian`/`12`,
 * `sles`/`15.5`, `opensuse-leap`, `mariner`/`2.0`, `azurelinux`/`3.0`, `oracle`/`ol`, `flatcar`); the
 * exact spellings are not documented by Microsoft, so matching is tolerant (*unverified* list).
 */
export function linuxFromAgent(osName: string | undefined, osVersion: string | undefined): AgentLinux | undefined {
  const name = (osName ?? "").trim().toLowerCase();
  if (name === "") return undefined;
  if (name.includes("windows")) return { kind: "windows" };
  const distro: LinuxDistro | undefined =
    /ubuntu/.test(name) ? "ubuntu"
    : /red\s*hat|redhat|^rhel/.test(name) ? "rhel"
    : /centos/.test(name) ? "centos"
    : /alma/.test(name) ? "almalinux"
    : /rocky/.test(name) ? "rocky"
    : /oracle|^ol$/.test(name) ? "oracle"
    : /debian/.test(name) ? "debian"
    : /opensuse/.test(name) ? "opensuse"
    : /sles|suse/.test(name) ? "sles"
    : /mariner|azure\s*linux|azurelinux/.test(name) ? "azurelinux"
    : /flatcar/.test(name) ? "flatcar"
    : undefined;
  if (!distro) return { kind: "unrecognized" };
  const version = parseVersion(osVersion ?? "") ?? parseVersion(name);
  return { kind: "linux", os: version ? { distro, version, source: "agent" } : { distro, source: "agent" } };
}

/**
 * Whether the VM runs Linux as far as its own description tells: `osType` Linux, a marketplace
 * image from a Linux-only publisher, or an agent reporting a non-Windows OS.
 */
export function isLinuxVm(vm: ObservedVm): boolean {
  const osType = (vm.osType ?? "").trim().toLowerCase();
  if (osType !== "") return osType === "linux";
  if (isMarketplaceImage(vm.imageReference) && (isLinuxPublisher(vm.imageReference.publisher) || linuxFromImage(vm.imageReference))) return true;
  const agent = (vm.agentOsName ?? "").trim();
  return agent !== "" && !/windows/i.test(agent);
}

/**
 * Memory of common VM sizes in GiB (Microsoft Learn size pages: B-series v1 "B1ls 0.5 GiB, B1s 1 GiB,
 * B1ms 2 GiB", Bsv2 "B2ts_v2 1 GiB", A-series "A0 0.75 GiB"). A size not listed here is *not*
 * refused and its memory not guessed: only sizes known to be small are.
 */
export const VM_SIZE_MEMORY_GIB: Readonly<Record<string, number>> = {
  standard_b1ls: 0.5,
  standard_b1s: 1,
  standard_b1ms: 2,
  standard_b2s: 4,
  standard_b2ms: 8,
  standard_b2ts_v2: 1,
  standard_b2ats_v2: 1,
  standard_b2pts_v2: 1,
  standard_b2ls_v2: 4,
  standard_b2s_v2: 8,
  basic_a0: 0.75,
  standard_a0: 0.75,
  basic_a1: 1.75,
  standard_a1: 1.75,
  standard_a1_v2: 2,
  standard_a2_v2: 4,
  standard_d2s_v3: 8,
  standard_d2s_v5: 8,
  standard_d2ads_v5: 8,
  standard_d4s_v5: 16,
  standard_ds1_v2: 3.5,
  standard_f1s: 2,
  standard_f2s_v2: 4,
};

export function memoryOfSize(vmSize: string | undefined): number | undefined {
  return VM_SIZE_MEMORY_GIB[(vmSize ?? "").trim().toLowerCase()];
}

/**
 * The legacy preview extension (deprecated 2021-08-15): publisher `Microsoft.Azure.ActiveDirectory.LinuxSSH`,
 * type `AADLoginForLinux` (Azure/azure-linux-extensions#1200 installs it with that publisher; its handler
 * reports as `Microsoft.Azure.ActiveDirectory.LinuxSSH.AADLoginForLinux`). Matched by type whatever the
 * publisher prefix, because [MS-LINUX] names it only by type.
 */
export function isLegacyLinuxExtension(ext: ObservedExtension): boolean {
  const type = (ext.type ?? "").trim().toLowerCase();
  return type === "aadloginforlinux" || type.endsWith(".aadloginforlinux");
}

/** The legacy preview extension (deprecated 2021-08-15): publisher `Microsoft.Azure.ActiveDirectory.LinuxSSH`, type `AADLoginForLinux`. */
export const LEGACY_LINUX_EXTENSION = { publisher: "Microsoft.Azure.ActiveDirectory.LinuxSSH", type: "AADLoginForLinux" } as const;
