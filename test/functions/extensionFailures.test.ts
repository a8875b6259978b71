import type { EventGridEvent } from "../../src/local/emulator/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { ADMIN_ROLE, ALICE, SUB_A, deliverEvents, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

/**
 * What the AADLoginForWindows extension reports when it cannot work, as the emulator simulates it
 * from the VM (no identity → 1007, old OS → exit 51, no outbound network → DSREG_AUTOJOIN_DISC_FAILED),
 * and VMs the enforcer must not touch. Events are delivered by hand so a test decides what the VM
 * looks like before the enforcer first reads it.
 */
let stack: EnforcerStack;
let app: FunctionAppRegistry;

const EXTENSION = { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true };

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  app = await loadFunctionApp("src/functions/index.ts");
  await stack.owner.putResourceGroup(SUB_A, "rg-ext", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

/** Delivers the events, then runs what they queued (follow-ups included) through the queue function. */
const deliver = (events?: EventGridEvent[]) => deliverEvents(stack, app, events);

/** A pass as the drift audit would start it, and the follow-ups it queues. */
async function queuedPass(id: string) {
  await stack.services.queue.send({ vmId: id, trigger: "audit" });
  await stack.drain();
  return stack.services.store.getVm(id);
}

async function assignmentPairs(id: string) {
  return (await stack.owner.listRoleAssignments(id))
    .filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase())
    .map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`);
}

const short = (writes: { method: string; path: string }[]) => writes.map((w) => `${w.method} ${w.path.split("/").slice(-2).join("/")}`);

describe("1007: the owner installed the extension on a VM without identity", () => {
  it("is diagnosed msi-tenant-unavailable, repaired (identity, reinstall) and remediated", async () => {
    const id = vmId(SUB_A, "rg-ext", "no-msi-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await expect(stack.owner.putExtension(id, "AADLoginForWindows", EXTENSION, "westeurope")).rejects.toThrow(/1007|-2145648574/);

    const since = stack.requestSeq();
    await deliver();
    expect(short(stack.enforcerWrites(since))).toEqual([
      "PATCH virtualMachines/no-msi-01",
      "PUT extensions/AADLoginForWindows",
      expect.stringMatching(/^PUT roleAssignments\//),
    ]);
    const vm = await stack.owner.getVm(id);
    expect((vm?.["identity"] as { type: string }).type).toBe("SystemAssigned");
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.extensionStatus).toBe("Succeeded");
    expect(record?.diagnosis?.code).toBe("msi-tenant-unavailable");
    expect(record?.diagnosis?.exitCode).toBe(-2145648574);
    expect(record?.diagnosis?.remediation).toMatch(/^Resolved: the reinstall succeeded/);
    const log = await stack.services.store.listLog(id, 20);
    const install = log.find((l) => l.kind === "action" && l.action === "installExtension");
    expect(install?.message).toContain("(failed)");
    // The pass that found the failure decided on its diagnosis; later passes carried the repair on.
    expect(log.filter((l) => l.kind === "decision").some((l) => JSON.stringify(l.details).includes("msi-tenant-unavailable"))).toBe(true);
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });
});

describe("exit 51: the owner installed the extension on Windows Server 2016", () => {
  it("records the diagnosis and never rewrites the extension, pass after pass", async () => {
    const id = vmId(SUB_A, "rg-ext", "old-2016");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2016-Datacenter", identity: { type: "SystemAssigned" }, tags: { "aadlogin-admins": ALICE } }));
    await expect(stack.owner.putExtension(id, "AADLoginForWindows", EXTENSION, "westeurope")).rejects.toThrow(/Exit code: 51/);

    const since = stack.requestSeq();
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("ineligible");
    expect(record?.reason).toBe("os-version-below-policy");
    expect(record?.diagnosis).toMatchObject({ code: "unsupported-os", exitCode: 51 });
    expect(record?.extensionStatus).toBe("Failed");

    await stack.owner.mergeTags(id, { "cost-center": "42" });
    await deliver();
    await queuedPass(id);
    expect((await stack.services.store.getVm(id))?.passCount).toBe(3);
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(await assignmentPairs(id)).toEqual([]);
  });
});

describe("no outbound network: DSREG_AUTOJOIN_DISC_FAILED", () => {
  const id = vmId(SUB_A, "rg-ext", "isolated-01");

  it("fails with the diagnosis and grants nothing while login cannot work", async () => {
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2022-datacenter-g2", tags: { "aadlogin-admins": ALICE } }));
    stack.emulator.setVmSimulation({ id, outboundNetwork: false });
    const since = stack.requestSeq();
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("failed");
    expect(record?.diagnosis).toMatchObject({ code: "autojoin-discovery-failed", exitCode: -2145648607 });
    expect(record?.message).toContain("enterpriseregistration.windows.net");
    expect(short(stack.enforcerWrites(since))).toEqual(["PATCH virtualMachines/isolated-01", "PUT extensions/AADLoginForWindows"]);
    expect(await assignmentPairs(id)).toEqual([]);
    const log = await stack.services.store.listLog(id, 20);
    expect(log.find((l) => l.action === "installExtension")?.result).toBe("failed: autojoin-discovery-failed");
    expect(log.find((l) => l.action === "createAssignment")?.result).toBe("skipped");
  });

  it("once the network is fixed, the next pass reinstalls and grants", async () => {
    stack.emulator.setVmSimulation({ id, outboundNetwork: true });
    const since = stack.requestSeq();
    const record = await queuedPass(id);
    expect(record?.state).toBe("remediated");
    // The diagnosis now says what was wrong and that it is resolved; the next pass finds nothing to say.
    expect(record?.diagnosis?.code).toBe("autojoin-discovery-failed");
    expect(record?.diagnosis?.remediation).toMatch(/^Resolved: the reinstall succeeded/);
    expect(short(stack.enforcerWrites(since))).toEqual(["PUT extensions/AADLoginForWindows", expect.stringMatching(/^PUT roleAssignments\//)]);
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    const converged = await queuedPass(id);
    expect(converged?.state).toBe("compliant");
    expect(converged?.diagnosis).toBeUndefined();
  });
});

describe("VMs the enforcer must leave alone", () => {
  it("a stopped VM is deferred with zero writes: the enforcer never starts a VM to install", async () => {
    const id = vmId(SUB_A, "rg-ext", "stopped-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    stack.emulator.setVmSimulation({ id, powerState: "stopped" });
    const since = stack.requestSeq();
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("deferred");
    expect(record?.reason).toBe("vm-not-running");
    expect(record?.powerState).toMatch(/stopped/i);
    expect(stack.enforcerWrites(since)).toEqual([]);
  });

  it("a VM stopped between observe and act is deferred, not failed: ARM refuses the install and nothing is forced", async () => {
    const id = vmId(SUB_A, "rg-ext", "stops-midway-01");
    stack.takeEvents();
    // The identity is there already: the first pass goes straight to the extension.
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", identity: { type: "SystemAssigned" }, tags: { "aadlogin-admins": ALICE } }));
    const [event] = stack.takeEvents();
    await app.get("onResourceWrite")!.invoke(event);
    const since = stack.requestSeq();
    const mi = stack.emulator.managedIdentity.principalId;
    // Hold the role-assignment list (the pass's second read) so the VM can stop after the VM GET observed it running.
    stack.emulator.setFaults({ rules: [{ match: { method: "GET", pathContains: "stops-midway-01/providers/Microsoft.Authorization/roleAssignments" }, latencyMs: 300, count: 1 }] });
    try {
      const pass = stack.drain();
      await waitUntil(() => stack.emulator.requests(since).requests.some((r) => r.caller === mi && r.method === "GET" && r.path.toLowerCase() === id.toLowerCase()));
      stack.emulator.setVmSimulation({ id, powerState: "stopped" });
      await pass;
    } finally {
      stack.emulator.clearFaults();
    }
    // Acted on what it observed: the extension PUT was refused (409), and nothing else was written.
    expect(stack.enforcerWrites(since).map((w) => `${w.method} ${w.status}`)).toEqual(["PUT 409"]);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("deferred");
    expect(record?.reason).toBe("vm-not-running");
    expect(record?.powerState).toMatch(/stopped/i);
    expect(record?.diagnosis).toBeUndefined();
    expect(record?.extensionStatus).toBe("missing");
    expect(await assignmentPairs(id)).toEqual([]);

    // Still stopped: the next pass is deferred with zero writes; once started, it is remediated.
    const next = stack.requestSeq();
    expect((await queuedPass(id))?.state).toBe("deferred");
    expect(stack.enforcerWrites(next)).toEqual([]);
    await stack.owner.powerAction(id, "start");
    expect((await queuedPass(id))?.state).toBe("remediated");
  });

  it("a domain-joined VM (JsonADDomainExtension) is a conflict with zero writes", async () => {
    const id = vmId(SUB_A, "rg-ext", "domain-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await stack.owner.putExtension(id, "joindomain", {
      publisher: "Microsoft.Compute", type: "JsonADDomainExtension", typeHandlerVersion: "1.3", autoUpgradeMinorVersion: true,
      settings: { Name: "corp.contoso.example", OUPath: "", User: "corp\\joiner", Restart: "true", Options: "3" },
    }, "westeurope");
    const since = stack.requestSeq();
    await deliver();
    await queuedPass(id);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("conflict");
    expect(record?.reason).toBe("domain-joined");
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(await assignmentPairs(id)).toEqual([]);
  });
});

async function waitUntil(condition: () => boolean, timeoutInMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutInMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
