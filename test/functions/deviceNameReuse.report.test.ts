import { afterAll, beforeAll, expect, it } from "vitest";
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

  await story.create();
  const row = await story.row();
  expect(row?.diagnosis).toMatchObject({ code: "duplicate-device", exitCode: -2145648639 });
  expect(row?.diagnosis?.remediation).toMatch(/Delete the stale device object/);
  // The join did not happen: the directory still holds only the old VM's device, and the row does not claim it.
  expect(story.devicesNamed().map((d) => d.id)).toEqual([old!.id]);
  expect(row?.state).toBe("failed");
  expect(row?.message).toMatch(/same name already exists/);
  expect(row?.device).toBeUndefined();
});
