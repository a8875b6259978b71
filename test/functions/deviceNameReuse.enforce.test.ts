import { afterAll, beforeAll, expect, it } from "vitest";
import { startStory, type Story } from "../support/deviceNameReuse.js";

/**
 * DEVICE_CLEANUP=enforce, through the local host: the deleted VM's device is deleted by the pass on
 * the delete event, so the next VM of the same name joins and is confirmed. Its twin,
 * deviceNameReuse.report.test.ts, shows the same story failing with the device left behind.
 */
let story: Story;

beforeAll(async () => {
  story = await startStory("enforce", "web-reuse-02");
});

afterAll(async () => {
  await story?.close();
});

it("enforce: the deleted VM's device is deleted; the new VM of the same name joins and is confirmed", async () => {
  await story.create();
  const [old] = story.devicesNamed();
  expect((await story.row())?.device).toMatchObject({ status: "joined", id: old!.id });

  await story.remove();
  expect((await story.row())?.device).toMatchObject({ status: "deleted", id: old!.id });
  expect(story.devicesNamed()).toEqual([]);

  await story.create();
  const row = await story.row();
  const [fresh] = story.devicesNamed();
  expect(story.devicesNamed()).toHaveLength(1);
  expect(fresh!.id).not.toBe(old!.id);
  expect(fresh!.physicalIds).toEqual([`[AzureResourceId]:${story.id}`]);
  expect(row?.diagnosis).toBeUndefined();
  expect(row?.state).not.toBe("failed");
  expect(row?.device).toMatchObject({ status: "joined", id: fresh!.id });
});
