import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startArmEmulator } from "../../../src/local/emulator/index.js";
import { grantOwnerAtRoot } from "../../support/emulator.js";
import { ResourceGraphHistory } from "../../../src/local/emulator/resource-graph-history.js";
import type { GraphRow } from "../../../src/local/emulator/resource-graph-rows.js";
import { armCall } from "./arm-http.js";

const row = (id: string, version: number): GraphRow => ({ table: "Resources", row: { id, version } });
const one = (id: string, version: number): Map<string, GraphRow> => new Map([[id, row(id, version)]]);

describe("the history Resource Graph reads", () => {
  it("answers as of any instant within lag + retention", () => {
    const history = new ResourceGraphHistory(() => 1000);
    history.recordOwner("vm:a", one("a", 1), 0);
    history.recordOwner("vm:a", one("a", 2), 100);
    history.recordOwner("vm:a", new Map(), 200);
    expect(history.rowsAsOf("Resources", 50, 300)).toEqual([{ id: "a", version: 1 }]);
    expect(history.rowsAsOf("Resources", 150, 300)).toEqual([{ id: "a", version: 2 }]);
    expect(history.rowsAsOf("Resources", 250, 300)).toEqual([]);
    expect(history.rowsAsOf("AuthorizationResources", 150, 300)).toEqual([]);
  });

  it("records nothing for an unchanged re-render", () => {
    const history = new ResourceGraphHistory(() => 1000);
    history.recordOwner("vm:a", one("a", 1), 0);
    history.recordOwner("vm:a", one("a", 1), 500);
    // Still the version of time 0: a query as of 10 sees it.
    expect(history.rowsAsOf("Resources", 10, 600)).toEqual([{ id: "a", version: 1 }]);
  });

  it("keeps memory bounded: old versions and old deletions are dropped, at most 32 versions a resource", () => {
    const history = new ResourceGraphHistory(() => 100);
    for (let i = 0; i < 100; i++) history.recordOwner("vm:a", one("a", i), i);
    const versions = (history as unknown as { versions: Map<string, unknown[]> }).versions;
    expect(versions.get("a")?.length).toBeLessThanOrEqual(32);
    history.recordOwner("vm:a", new Map(), 1000);
    history.rowsAsOf("Resources", 2000, 2000);
    expect(versions.has("a")).toBe(false);
  });
});

describe("Resource Graph after a restart on a state file", () => {
  it("has what the file held at once, whatever the lag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arg-persist-"));
    const SUB = "abab0000-0000-4000-8000-0000000000ab";
    const vm = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/kept`;
    try {
      const first = await startArmEmulator({ stateDir: dir, persist: true });
      first.seed({ vms: [{ id: vm, body: { location: "westus", tags: { a: "1" }, properties: {} } as never }] });
      await first.close();
      const second = await startArmEmulator({ stateDir: dir, persist: true, resourceGraph: { lagMs: 60_000 } });
      try {
        grantOwnerAtRoot(second);
        const res = await armCall(second.armUrl, second.caPem, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", {
          token: second.tokenFor(second.managedIdentity.principalId),
          body: { subscriptions: [SUB], query: "Resources | project id, tags" },
        });
        expect(res.body.data).toEqual([{ id: vm, tags: { a: "1" } }]);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
