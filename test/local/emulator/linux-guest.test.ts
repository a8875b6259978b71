import { describe, expect, it } from "vitest";
import { guestOsFor } from "../../../src/local/emulator/os-catalog.js";
import { linuxFromAgent, linuxFromImage } from "../../../src/domain/linuxPolicy.js";

/**
 * The emulator's Linux guest agent reports (`osName`/`osVersion`) for marketplace images, read back by
 * the domain's agent parser: the two must agree on the distribution the image reference names, or
 * custom-image decisions in tests would rest on a report the enforcer cannot place.
 */
const vm = (publisher: string, offer: string, sku: string) => ({
  storageProfile: { imageReference: { publisher, offer, sku, version: "latest" }, osDisk: { osType: "Linux" } },
});

describe("emulator Linux guests: what the agent reports for an image, as the enforcer reads it", () => {
  it.each([
    ["Ubuntu 22.04", vm("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"), "ubuntu", "22.04", { major: 22, minor: 4 }],
    ["RHEL 9 (major-only sku: latest minor)", vm("RedHat", "RHEL", "9-lvm-gen2"), "rhel", "9.4", { major: 9, minor: 4 }],
    ["RHEL 8 (major-only sku)", vm("RedHat", "RHEL", "8-lvm-gen2"), "rhel", "8.10", { major: 8, minor: 10 }],
    ["RHEL 7.9", vm("RedHat", "RHEL", "7_9"), "rhel", "7.9", { major: 7, minor: 9 }],
    ["CentOS 7.9", vm("OpenLogic", "CentOS", "7_9-gen2"), "centos", "7.9.2009", { major: 7, minor: 9 }],
    ["AlmaLinux 9", vm("almalinux", "almalinux-x86_64", "9-gen2"), "almalinux", "9.4", { major: 9, minor: 4 }],
    ["Debian 12", vm("Debian", "debian-12", "12-gen2"), "debian", "12", { major: 12 }],
    ["SLES 15 SP5", vm("SUSE", "sles-15-sp5", "gen2"), "sles", "15.5", { major: 15, minor: 5 }],
    ["CBL-Mariner 2", vm("MicrosoftCBLMariner", "cbl-mariner", "cbl-mariner-2-gen2"), "mariner", "2.0", { major: 2, minor: 0 }],
  ])("%s", (_label, properties, osName, osVersion, version) => {
    const guest = guestOsFor(properties);
    expect(guest).toEqual({ osName, osVersion });
    const agent = linuxFromAgent(guest.osName, guest.osVersion);
    expect(agent?.kind).toBe("linux");
    if (agent?.kind !== "linux") return;
    expect(agent.os.version).toEqual(version);
    expect(agent.os.distro).toBe(linuxFromImage(properties.storageProfile.imageReference)?.distro);
  });
});
