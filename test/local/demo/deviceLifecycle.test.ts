import { afterAll, beforeAll, expect, it } from "vitest";
import { demoDeviceLifecycle } from "../../../src/local/demo/deviceLifecycle.js";
import type { Fleet } from "../../../src/local/demo/fleet.js";
import { OWNER, SUB_A, vmBody, vmId } from "../../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../../support/hostedStack.js";

/**
 * The demo's device story (npm start with the demo fleet), run twice on one stack as a run resumed on
 * a state directory does: the second retired-01 meets the device the first one left (DEVICE_CLEANUP
 * report, as locally) and fails with duplicate-device instead of the demo waiting for a join.
 */
let stack: HostedStack;
const RG = "rg-demo-devices";

beforeAll(async () => {
  stack = await startHostedStack({ settings: { DEVICE_CONFIRMATION: "true", DEVICE_CLEANUP: "report", DEVICE_JOIN_WAIT_MS: "0" } });
  await stack.owner.putResourceGroup(SUB_A, RG, "westeurope");
  await stack.settle();
});

afterAll(async () => {
  await stack?.close();
});

it("the first run joins and reports the device on delete; the resumed run's retired-01 fails with duplicate-device, quickly", async () => {
  const fleet: Fleet = {
    network: [],
    subscriptions: [{ id: SUB_A, displayName: "a" }],
    resourceGroups: [{ subscriptionId: SUB_A, name: RG, location: "westeurope" }],
    principals: [],
    owner: { id: OWNER, type: "User", displayName: "Olga", allowed: false },
    vms: [{ id: vmId(SUB_A, RG, "model-01"), body: vmBody({ sku: "2022-datacenter-azure-edition" }), expect: "remediated", note: "" }],
  };
  const lines: string[] = [];
  const first = await demoDeviceLifecycle(stack, fleet, (l) => lines.push(l), 20_000);
  expect(first).toMatchObject({ joined: { status: "joined" }, afterDelete: { status: "would-delete" }, state: "gone" });
  expect(first?.failed).toBeUndefined();

  const started = Date.now();
  const second = await demoDeviceLifecycle(stack, fleet, (l) => lines.push(l), 20_000);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(second).toMatchObject({ failed: "duplicate-device", state: "gone" });
  expect(second?.joined).toBeUndefined();
  expect(lines.some((l) => /join: {4}failed: duplicate-device: A device with the same name already exists/.test(l))).toBe(true);
  expect(stack.emulator.devices().filter((d) => d.displayName === "retired-01")).toHaveLength(1);
});
