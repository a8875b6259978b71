import { describe, expect, it } from "vitest";
import { buildOfVersion, isArm64Image, isArm64Size, isMarketplaceImage, osFromAgent, osFromImage } from "../../src/domain/osInfo.js";

type Row = [publisher: string, offer: string, sku: string, expected: Record<string, unknown> | undefined];

describe("osFromImage: Windows Server marketplace images", () => {
  it.each<Row>([
    ["MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", { family: "server", release: "2016", build: 14393, edition: "Datacenter", serverCore: false }],
    ["MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter", { family: "server", release: "2012 R2", build: 9600 }],
    ["MicrosoftWindowsServer", "WindowsServer", "2008-R2-SP1", { family: "server", release: "2008 R2", build: 7601 }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter", { family: "server", release: "2019", build: 17763, edition: "Datacenter", serverCore: false }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-datacenter-gensecond", { family: "server", release: "2019", build: 17763, serverCore: false }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter-smalldisk", { family: "server", release: "2019", build: 17763 }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-datacenter-with-containers", { family: "server", release: "2019", serverCore: false }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-datacenter-core-smalldisk", { family: "server", release: "2019", serverCore: true }],
    ["MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter-Core", { family: "server", release: "2019", serverCore: true }],
    ["MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", { family: "server", release: "2022", build: 20348, edition: "Datacenter: Azure Edition", serverCore: false }],
    ["MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition-core", { family: "server", release: "2022", serverCore: true }],
    ["MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-g2", { family: "server", release: "2022", build: 20348, edition: "Datacenter" }],
    ["MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-smalldisk-g2", { family: "server", release: "2022" }],
    ["MicrosoftWindowsServer", "WindowsServer", "2025-datacenter-azure-edition", { family: "server", release: "2025", build: 26100 }],
    ["MicrosoftWindowsServer", "WindowsServer", "2025-datacenter-g2", { family: "server", release: "2025", build: 26100 }],
    ["microsoftwindowsserver", "windowsserver", "2022-DATACENTER", { family: "server", release: "2022" }],
    ["MicrosoftWindowsServer", "WindowsServerSemiAnnual", "Datacenter-Core-1809-with-Containers-smalldisk", { family: "server", version: "1809", build: 17763, serverCore: true }],
    ["MicrosoftWindowsServer", "WindowsServerSemiAnnual", "datacenter-core-20h2-with-containers-smalldisk-gs", { family: "server", version: "20h2", build: 19042, serverCore: true }],
    ["MicrosoftWindowsServer", "microsoftserveroperatingsystems-previews", "windows-server-2022-azure-edition-preview", { family: "server", release: "2022" }],
    ["MicrosoftWindowsServer", "windows-cvm", "2022-datacenter-cvm", { family: "server", release: "2022" }],
    ["MicrosoftWindowsServer", "WindowsServer", "Datacenter", undefined],
    ["MicrosoftSQLServer", "sql2022-ws2019", "enterprise-gen2", { family: "server", release: "2019", build: 17763 }],
    ["MicrosoftSQLServer", "sql2019-ws2022", "sqldev-gen2", { family: "server", release: "2022" }],
    ["MicrosoftSQLServer", "SQL2016SP2-WS2016", "Standard", { family: "server", release: "2016" }],
  ])("%s / %s / %s", (publisher, offer, sku, expected) => {
    const os = osFromImage({ publisher, offer, sku, version: "latest" });
    if (expected === undefined) expect(os).toBeUndefined();
    else expect(os).toMatchObject({ ...expected, source: "image" });
  });
});

describe("osFromImage: Windows 10/11 marketplace images", () => {
  it.each<Row>([
    ["MicrosoftWindowsDesktop", "Windows-10", "rs5-pro", { family: "client", release: "10", version: "1809", build: 17763, edition: "Pro" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "RS5-Pro", { family: "client", release: "10", version: "1809", build: 17763 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "rs5-enterprise", { family: "client", version: "1809", edition: "Enterprise" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "rs5-evd", { family: "client", version: "1809", edition: "Enterprise multi-session" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "rs4-pro", { family: "client", release: "10", version: "1803", build: 17134 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "rs3-pro", { family: "client", version: "1709", build: 16299 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "rs1-enterprise", { family: "client", version: "1607", build: 14393 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "1803-pro", { family: "client", version: "1803", build: 17134 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "19h1-pro", { family: "client", version: "1903", build: 18362 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "19h2-ent", { family: "client", version: "1909", build: 18363, edition: "Enterprise" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "20h1-pro-g2", { family: "client", version: "2004", build: 19041 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "20h2-pro", { family: "client", version: "20h2", build: 19042 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "win10-21h2-pro", { family: "client", release: "10", version: "21h2", build: 19044 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "win10-21h2-ent-ltsc", { family: "client", version: "21h2", edition: "Enterprise LTSC" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "win10-22h2-pro", { family: "client", release: "10", version: "22h2", build: 19045, edition: "Pro" }],
    ["MicrosoftWindowsDesktop", "Windows-10", "win10-22h2-pro-g2", { family: "client", version: "22h2", build: 19045 }],
    ["MicrosoftWindowsDesktop", "windows-10", "win10-22h2-avd", { family: "client", version: "22h2", build: 19045, edition: "Enterprise multi-session" }],
    ["MicrosoftWindowsDesktop", "office-365", "win10-22h2-avd-m365", { family: "client", release: "10", version: "22h2", edition: "Enterprise multi-session" }],
    ["MicrosoftWindowsDesktop", "office-365", "20h2-evd-o365pp", { family: "client", release: "10", version: "20h2" }],
    ["MicrosoftWindowsDesktop", "windows-11", "win11-21h2-pro", { family: "client", release: "11", version: "21h2", build: 22000 }],
    ["MicrosoftWindowsDesktop", "windows-11", "win11-22h2-ent", { family: "client", release: "11", version: "22h2", build: 22621 }],
    ["MicrosoftWindowsDesktop", "windows-11", "win11-23h2-ent", { family: "client", release: "11", version: "23h2", build: 22631, edition: "Enterprise" }],
    ["MicrosoftWindowsDesktop", "windows-11", "win11-24h2-avd", { family: "client", release: "11", version: "24h2", build: 26100, edition: "Enterprise multi-session" }],
    ["MicrosoftWindowsDesktop", "Windows-11", "WIN11-24H2-PRO", { family: "client", release: "11", build: 26100 }],
    ["MicrosoftWindowsDesktop", "office-365", "win11-23h2-avd-m365", { family: "client", release: "11", build: 22631 }],
    ["MicrosoftWindowsDesktop", "windows11preview-arm64", "win11-24h2-pro", { family: "client", release: "11", build: 26100 }],
    ["MicrosoftWindowsDesktop", "Windows-7", "win7-enterprise", { family: "client", release: "7", build: 7601 }],
    ["MicrosoftWindowsDesktop", "Windows-10", "pro", undefined],
  ])("%s / %s / %s", (publisher, offer, sku, expected) => {
    const os = osFromImage({ publisher, offer, sku, version: "latest" });
    if (expected === undefined) expect(os).toBeUndefined();
    else expect(os).toMatchObject({ ...expected, source: "image" });
  });
});

describe("osFromImage: images that do not name their OS", () => {
  it.each([
    ["a managed image id", { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/golden" }],
    ["a gallery image id", { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/win/versions/1.0.0" }],
    ["a shared gallery image", { sharedGalleryImageId: "/SharedGalleries/abc/Images/win/Versions/latest" }],
    ["a community gallery image", { communityGalleryImageId: "/CommunityGalleries/abc/Images/win/Versions/latest" }],
    ["a reference with both marketplace fields and an id", { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", id: "/subscriptions/s/x" }],
    ["no publisher", { offer: "WindowsServer", sku: "2019-Datacenter" }],
    ["a third-party image", { publisher: "fortinet", offer: "fortinet_fortigate-vm_v5", sku: "fortinet_fg-vm" }],
    ["nothing", undefined],
  ])("%s → undefined", (_label, ref) => {
    expect(osFromImage(ref)).toBeUndefined();
  });

  it("tells marketplace from custom images", () => {
    expect(isMarketplaceImage({ publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter" })).toBe(true);
    expect(isMarketplaceImage({ id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/golden" })).toBe(false);
    expect(isMarketplaceImage(undefined)).toBe(false);
  });
});

describe("osFromAgent", () => {
  it.each<[string | undefined, string | undefined, Record<string, unknown> | undefined]>([
    ["Windows Server 2022 Datacenter", "10.0.20348.2340", { kind: "windows", os: { family: "server", release: "2022", build: 20348, edition: "Datacenter", serverCore: false, source: "agent" } }],
    ["Windows Server 2016 Datacenter", "Microsoft Windows NT 10.0.14393.0", { kind: "windows", os: { family: "server", release: "2016", build: 14393 } }],
    ["Windows Server 2019 Datacenter", "10.0.17763.5936", { kind: "windows", os: { family: "server", release: "2019", build: 17763 } }],
    ["Windows Server 2019 Datacenter Core", "10.0.17763.1", { kind: "windows", os: { family: "server", release: "2019", serverCore: true } }],
    ["Windows Server 2022 Datacenter Azure Edition", "10.0.20348.1", { kind: "windows", os: { family: "server", release: "2022", edition: "Datacenter: Azure Edition" } }],
    ["Windows Server 2025 Datacenter", "10.0.26100.1742", { kind: "windows", os: { family: "server", release: "2025", build: 26100 } }],
    ["Windows Server 2012 R2 Datacenter", "6.3.9600", { kind: "windows", os: { family: "server", release: "2012 R2", build: 9600 } }],
    ["Windows Server Datacenter", "10.0.17763.1", { kind: "windows", os: { family: "server", version: "1809", build: 17763 } }],
    ["Windows Server 2022 Standard", undefined, { kind: "windows", os: { family: "server", release: "2022", build: 20348, edition: "Standard" } }],
    ["Windows 10 Enterprise", "10.0.17134", { kind: "windows", os: { family: "client", release: "10", version: "1803", build: 17134, edition: "Enterprise" } }],
    ["Windows 10 Pro", "10.0.19045.4529", { kind: "windows", os: { family: "client", release: "10", version: "22h2", build: 19045, edition: "Pro" } }],
    ["Windows 10 Enterprise multi-session", "10.0.19044.1", { kind: "windows", os: { family: "client", release: "10", edition: "Enterprise multi-session" } }],
    ["Windows 10 Enterprise", "10.0.22631.3737", { kind: "windows", os: { family: "client", release: "11", version: "23h2", build: 22631 } }],
    ["Microsoft Windows 11 Enterprise", "10.0.26100.1", { kind: "windows", os: { family: "client", release: "11", build: 26100 } }],
    ["windows 11 pro", "10.0.22000.1", { kind: "windows", os: { family: "client", release: "11", build: 22000 } }],
    ["Windows 10 Enterprise", undefined, { kind: "unrecognized" }],
    ["Windows", "10.0.20348.1", { kind: "unrecognized" }],
    ["Windows Server", "not a version", { kind: "unrecognized" }],
    ["ubuntu", "22.04", { kind: "not-windows" }],
    ["Linux", "5.15.0", { kind: "not-windows" }],
    ["", "10.0.20348.1", undefined],
    [undefined, undefined, undefined],
    ["   ", undefined, undefined],
  ])("%s / %s", (name, version, expected) => {
    const result = osFromAgent(name, version);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toMatchObject(expected);
  });

  it.each([
    ["10.0.20348.2340", 20348],
    ["Microsoft Windows NT 10.0.14393.0", 14393],
    ["6.3.9600", 9600],
    ["10.0", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("build of %s is %s", (version, build) => {
    expect(buildOfVersion(version)).toBe(build);
  });
});

describe("arm64", () => {
  it.each([
    ["Standard_D2ps_v5", true],
    ["Standard_D4pds_v5", true],
    ["Standard_E4pds_v5", true],
    ["Standard_E8ps_v5", true],
    ["Standard_D2pls_v5", true],
    ["Standard_D2pls_v6", true],
    ["Standard_D16plds_v6", true],
    ["Standard_E2ps_v6", true],
    ["Standard_B2pts_v2", true],
    ["Standard_B2pls_v2", true],
    ["standard_d2ps_v5", true],
    ["Standard_D2s_v5", false],
    ["Standard_D2ds_v5", false],
    ["Standard_D2as_v5", false],
    ["Standard_DS3_v2", false],
    ["Standard_D2_v2", false],
    ["Standard_E4-2ds_v5", false],
    ["Standard_B2s", false],
    ["Standard_NC6s_v3", false],
    ["Standard_A0", false],
    ["", false],
    [undefined, false],
  ])("size %s → %s", (size, arm) => {
    expect(isArm64Size(size)).toBe(arm);
  });

  it.each([
    [{ publisher: "MicrosoftWindowsDesktop", offer: "windows11preview-arm64", sku: "win11-24h2-pro" }, true],
    [{ publisher: "MicrosoftWindowsDesktop", offer: "windows-11", sku: "win11-24h2-pro-arm64" }, true],
    [{ publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-g2" }, false],
    [undefined, false],
  ])("image %o → %s", (ref, arm) => {
    expect(isArm64Image(ref)).toBe(arm);
  });
});
