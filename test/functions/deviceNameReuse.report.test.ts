import { afterAll, beforeAll, expect, it } from "vitest";
import { vmTarget } from "../../src/domain/resourceId.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { startStory, type Story } from "../support/deviceNameReuse.js";

/**
 * DEVICE_CLEANUP=report, through the local host: the deleted VM's device is reported and left, and it
 * blocks the next VM of the same name ("a device with the same name already exists"): the reason to
 * run `enforce`. Its twin, deviceNameReuse.enforce.test.ts, runs the same story with cleanup on.
 */
let story: Story;

beforeAll(async () => {
  story = await startStory("report", "web-reuse-01");
});

afterAll(async () => {
  await story?.close();
});

it("report: the deleted VM's device is reported and left; the new VM of the same name fails to join with duplicate-device", async () => {
  await story.create();
  const first = await story.row();
  expect(first?.device).toMatchObject({ status: "joined" });
  const [old] = story.devicesNamed();
  expect(first?.device?.id).toBe(old!.id);

  await story.remove();
  expect((await story.row())?.device).toMatchObject({ status: "would-delete", id: old!.id });
  expect(story.devicesNamed().map((d) => d.id)).toEqual([old!.id]);

  const since = story.stack.requestSeq();
  await story.create();
  const row = await story.row();
  expect(row?.diagnosis).toMatchObject({ code: "duplicate-device", exitCode: -2145648639, blockers: [old!.id] });
  expect(row?.diagnosis?.remediation).toMatch(/Delete the stale device object/);
  // The row names the device that blocks the join: the one the deleted VM (same resource id) left.
  expect(row?.diagnosis?.remediation).toContain(`Blocking: device "web-reuse-01" (object id ${old!.id}) registered for VM ${story.id}`);
  expect(row?.diagnosis?.remediation).toMatch(/back up its BitLocker keys first\), or run DEVICE_CLEANUP=enforce/);
  // Named, never touched: one read by display name, no DELETE sent to Graph.
  const graph = story.stack.enforcerRequests(since).filter((r) => r.path.startsWith("/v1.0/"));
  expect(graph.filter((r) => r.method === "DELETE")).toEqual([]);
  expect(graph.filter((r) => r.method === "GET")).toHaveLength(1);
  // The join did not happen: the directory still holds only the old VM's device, and the row does not claim it.
  expect(story.devicesNamed().map((d) => d.id)).toEqual([old!.id]);
  expect(row?.state).toBe("failed");
  expect(row?.message).toMatch(/same name already exists/);
  expect(row?.device).toBeUndefined();
});

it("the row names its blockers once per failure: a later pass copies them without asking Graph again", async () => {
  const since = story.stack.requestSeq();
  const result = await reconcile({ vm: vmTarget(story.id), trigger: "audit" }, story.stack.services);
  expect(result.diagnosis?.code).toBe("duplicate-device");
  const row = await story.row();
  expect(row?.diagnosis?.blockers).toEqual([story.devicesNamed()[0]!.id]);
  expect(row?.diagnosis?.remediation).toMatch(/^Delete the stale device object.*Blocking: device/);
  expect(story.stack.enforcerRequests(since).filter((r) => r.path.startsWith("/v1.0/"))).toEqual([]);
});

it("Graph refuses the lookup (403): the plain duplicate-device diagnosis stays and the pass does not fail over it", async () => {
  const mi = story.stack.emulator.managedIdentity.principalId;
  const [old] = story.devicesNamed();
  await story.remove();
  story.stack.emulator.setGraphRoles(mi, []);
  try {
    const since = story.stack.requestSeq();
    await story.create();
    const row = await story.row();
    expect(row?.state).toBe("failed");
    expect(row?.diagnosis).toMatchObject({ code: "duplicate-device", exitCode: -2145648639 });
    expect(row?.diagnosis?.blockers).toBeUndefined();
    expect(row?.diagnosis?.remediation).not.toMatch(/Blocking/);
    expect(story.stack.enforcerRequests(since).filter((r) => r.path.startsWith("/v1.0/"))).toContainEqual(expect.objectContaining({ method: "GET", status: 403 }));
    const log = await story.stack.services.store.listLog(story.id, 50);
    expect(log.find((e) => e.action === "nameBlockingDevices")).toMatchObject({ result: "lookup-failed", errorCode: "graph-forbidden" });
    expect(story.devicesNamed().map((d) => d.id)).toEqual([old!.id]);
  } finally {
    story.stack.emulator.setGraphRoles(mi, ["Device.Read.All", "Device.ReadWrite.All"]);
  }
});
