import type { EventGridEvent } from "../../src/local/emulator/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_VERSIONS } from "../../src/local/armUser.js";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { selectAuditTargets } from "../../src/orchestrator/auditTargets.js";
import { ADMIN_ROLE, ALICE, BOB, SUB_A, USER_ROLE, deliverEvents, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

/**
 * Linux VMs with ENFORCE_LINUX on, end to end: the owner's writes raise events, the registered
 * functions run the pass, the emulator answers as Compute and the Linux VM agent would
 * (AADSSHLoginForLinux: exit 22 without identity, 23 beside the old AADLoginForLinux). With the
 * setting off (the deployed default), Linux VMs are `not-windows` with zero writes: that is
 * test/functions/onResourceWrite.test.ts ("VMs that are not eligible cost reads only").
 */
let stack: EnforcerStack;
let app: FunctionAppRegistry;

const SSH_LOGIN = { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true };
const LEGACY = { publisher: "Microsoft.Azure.ActiveDirectory.LinuxSSH", type: "AADLoginForLinux", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true };
const ubuntu = (options: Parameters<typeof vmBody>[0] = {}) =>
  vmBody({ publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", osType: "Linux", ...options });

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce", settings: { ENFORCE_LINUX: "true" } });
  app = await loadFunctionApp("src/functions/index.ts");
  await stack.owner.putResourceGroup(SUB_A, "rg-linux", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

const deliver = (events?: EventGridEvent[]) => deliverEvents(stack, app, events);

async function createAndDeliver(id: string, body: Record<string, unknown>) {
  stack.takeEvents();
  await stack.owner.putVm(id, body);
  await deliver();
}

async function assignmentPairs(id: string) {
  return (await stack.owner.listRoleAssignments(id))
    .filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase())
    .map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`)
    .sort();
}

const short = (writes: { method: string; path: string }[]) => writes.map((w) => `${w.method} ${w.path.split("/").slice(-2).join("/")}`);

describe("an Ubuntu 22.04 VM with access tags", () => {
  const id = vmId(SUB_A, "rg-linux", "ubuntu-2204");

  it("is remediated: identity, AADSSHLoginForLinux, then the tagged grants", async () => {
    const since = stack.requestSeq();
    await createAndDeliver(id, ubuntu({ tags: { "aadlogin-admins": ALICE, "aadlogin-users": BOB } }));
    expect(short(stack.enforcerWrites(since))).toEqual([
      "PATCH virtualMachines/ubuntu-2204",
      "PUT extensions/AADSSHLoginForLinux",
      expect.stringMatching(/^PUT roleAssignments\//),
      expect.stringMatching(/^PUT roleAssignments\//),
    ]);
    const record = await stack.services.store.getVm(id);
    expect(record).toMatchObject({ state: "remediated", reason: "eligible", os: "Ubuntu 22.04", extensionStatus: "Succeeded" });
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());
    const extension = await stack.owner.request("GET", `${id}/extensions/AADSSHLoginForLinux`, API_VERSIONS.compute);
    expect((extension.body as { properties: Record<string, unknown> }).properties).toMatchObject({
      publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion: "1.0", provisioningState: "Succeeded",
    });
    const vm = await stack.owner.getVm(id);
    expect((vm?.["identity"] as { type: string }).type).toBe("SystemAssigned");
  });

  it("once compliant, a pass costs exactly 2 ARM reads and no write", async () => {
    const since = stack.requestSeq();
    await stack.services.queue.send({ vmId: id, trigger: "audit" });
    await stack.drain();
    const mi = stack.emulator.managedIdentity.principalId;
    const calls = stack.emulator.requests(since).requests.filter((r) => r.caller === mi);
    expect(calls.map((r) => r.method)).toEqual(["GET", "GET"]);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("compliant");
    const decision = (await stack.services.store.listLog(id, 50)).find((l) => l.kind === "decision" && l.trigger === "audit");
    expect((decision?.details as { armRequests: number }).armRequests).toBe(2);
  });
});

describe("RHEL 9 (a major-only sku, the agent reports 9.4)", () => {
  it("is remediated", async () => {
    const id = vmId(SUB_A, "rg-linux", "rhel-9");
    await createAndDeliver(id, vmBody({ publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2", osType: "Linux", tags: { "aadlogin-admins": ALICE } }));
    expect(await stack.services.store.getVm(id)).toMatchObject({ state: "remediated", extensionStatus: "Succeeded" });
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });
});

describe("exit 22: the owner installed AADSSHLoginForLinux on a VM without identity", () => {
  it("is diagnosed, repaired once (identity, reinstall) and remediated", async () => {
    const id = vmId(SUB_A, "rg-linux", "ubuntu-no-msi");
    stack.takeEvents();
    await stack.owner.putVm(id, ubuntu({ tags: { "aadlogin-admins": ALICE } }));
    await expect(stack.owner.putExtension(id, "AADSSHLoginForLinux", SSH_LOGIN, "westeurope")).rejects.toThrow(/Non-zero exit code: 22/);

    const since = stack.requestSeq();
    await deliver();
    expect(short(stack.enforcerWrites(since))).toEqual([
      "PATCH virtualMachines/ubuntu-no-msi",
      "PUT extensions/AADSSHLoginForLinux",
      expect.stringMatching(/^PUT roleAssignments\//),
    ]);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.diagnosis).toMatchObject({ code: "linux-identity-missing", exitCode: 22 });
    expect(record?.diagnosis?.remediation).toMatch(/^Resolved: the reinstall succeeded/);
    const log = await stack.services.store.listLog(id, 30);
    expect(log.filter((l) => l.kind === "action" && l.action === "enableIdentity" && /self-repair/.test(l.message ?? ""))).toHaveLength(1);
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });
});

describe("no outbound network: packages.microsoft.com unreachable (exit 20)", () => {
  it("fails with the diagnosis naming packages.microsoft.com and grants nothing while login cannot work", async () => {
    const id = vmId(SUB_A, "rg-linux", "ubuntu-isolated");
    stack.takeEvents();
    await stack.owner.putVm(id, ubuntu({ tags: { "aadlogin-admins": ALICE } }));
    stack.emulator.setVmSimulation({ id, outboundNetwork: false });
    const since = stack.requestSeq();
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("failed");
    expect(record?.diagnosis).toMatchObject({ code: "linux-packages-unreachable", exitCode: 20 });
    expect(record?.message).toContain("packages.microsoft.com");
    expect(short(stack.enforcerWrites(since))).toEqual(["PATCH virtualMachines/ubuntu-isolated", "PUT extensions/AADSSHLoginForLinux"]);
    expect(await assignmentPairs(id)).toEqual([]);
  });
});

describe("VMs the policy refuses cost reads only", () => {
  it.each([
    ["a B1ls (0.5 GiB)", "ubuntu-b1ls", ubuntu({ vmSize: "Standard_B1ls", tags: { "aadlogin-admins": ALICE } }), "ineligible", "vm-size-too-small"],
    ["CentOS 7.9", "centos-7", vmBody({ publisher: "OpenLogic", offer: "CentOS", sku: "7_9-gen2", osType: "Linux", tags: { "aadlogin-admins": ALICE } }), "ineligible", "distro-unsupported"],
    ["Ubuntu 14.04", "ubuntu-1404", vmBody({ publisher: "Canonical", offer: "UbuntuServer", sku: "14.04.5-LTS", osType: "Linux" }), "ineligible", "distro-version-below-policy"],
  ])("%s → %s (%s), zero writes", async (_what, name, body, state, reason) => {
    const id = vmId(SUB_A, "rg-linux", name);
    const since = stack.requestSeq();
    await createAndDeliver(id, body);
    expect(await stack.services.store.getVm(id)).toMatchObject({ state, reason });
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(await assignmentPairs(id)).toEqual([]);
  });
});

describe("the old AADLoginForLinux extension", () => {
  it("is a conflict with a clear reason; the enforcer writes nothing and never removes it", async () => {
    const id = vmId(SUB_A, "rg-linux", "ubuntu-legacy");
    stack.takeEvents();
    await stack.owner.putVm(id, ubuntu({ identity: { type: "SystemAssigned" }, tags: { "aadlogin-admins": ALICE } }));
    await stack.owner.putExtension(id, "AADLoginForLinux", LEGACY, "westeurope");
    const since = stack.requestSeq();
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record).toMatchObject({ state: "conflict", reason: "legacy-linux-extension" });
    expect(record?.message).toMatch(/ubuntu-legacy.*AADLoginForLinux.*exit code 23.*never removes/);
    expect(stack.enforcerWrites(since)).toEqual([]);
    const legacy = await stack.owner.request("GET", `${id}/extensions/AADLoginForLinux`, API_VERSIONS.compute);
    expect(legacy.status).toBe(200);
  });

  it("an owner who installs AADSSHLoginForLinux beside it gets exit 23, diagnosed by the next pass; still no write of ours", async () => {
    const id = vmId(SUB_A, "rg-linux", "ubuntu-legacy");
    await expect(stack.owner.putExtension(id, "AADSSHLoginForLinux", SSH_LOGIN, "westeurope")).rejects.toThrow(/Non-zero exit code: 23/);
    const since = stack.requestSeq();
    await stack.services.queue.send({ vmId: id, trigger: "audit" });
    await stack.drain();
    const record = await stack.services.store.getVm(id);
    expect(record).toMatchObject({ state: "conflict", reason: "legacy-linux-extension" });
    expect(record?.diagnosis).toMatchObject({ code: "linux-legacy-extension", exitCode: 23 });
    expect(stack.enforcerWrites(since)).toEqual([]);
  });
});

describe("the drift audit's Resource Graph snapshot reads the Linux extensions too", () => {
  it("vouches for the settled Linux VMs above (AADSSHLoginForLinux Succeeded, the legacy conflict seen) and suspects only the failed one", async () => {
    const selection = await selectAuditTargets(stack.services, [SUB_A], { source: "resource-graph", run: 0, slices: 0 });
    expect(selection.graphError ?? "", selection.warnings.join("; ")).toBe("");
    expect(selection.source).toBe("resource-graph");
    expect(selection.vmCount).toBe(8);
    expect(selection.targets.map((t) => t.vmId.split("/").pop())).toEqual(["ubuntu-isolated"]);
  });
});
