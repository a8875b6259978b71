import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startArmEmulator } from "../../src/local/emulator/index.js";
import { DEMO_PRINCIPALS } from "../../src/local/demo/fleet.js";

/**
 * kill -9 of the whole local stack (`npm start --state-dir`, a child process) in the middle of a
 * burst of new VMs, then a restart on the same directory: as after a crash of the Functions host in
 * Azure (Azure itself keeps going: the emulator's persisted state includes its operations in flight
 * and the events not yet acknowledged). Every VM must converge, with no twin assignment, no row
 * lost, and every grant matching its VM's tags.
 */
const SUB = "c1a5e000-0000-4000-8000-0000000000c1";
const N = 12;
const ADMIN_ROLE = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function vm(i: number, admins: string) {
  const name = `crash-${String(i).padStart(2, "0")}`;
  return {
    id: `/subscriptions/${SUB}/resourceGroups/rg-crash/providers/Microsoft.Compute/virtualMachines/${name}`,
    expect: "remediated",
    body: {
      location: "westeurope",
      tags: { "aadlogin-admins": admins },
      properties: {
        hardwareProfile: { vmSize: "Standard_D2s_v5" },
        storageProfile: {
          imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" },
          osDisk: { osType: "Windows", createOption: "FromImage" },
        },
        osProfile: { computerName: name, adminUsername: "azureuser", adminPassword: "Test-Only-Passw0rd!" },
        networkProfile: { networkInterfaces: [{ id: "/subscriptions/x/resourceGroups/x/providers/Microsoft.Network/networkInterfaces/nic" }] },
      },
    },
  };
}

interface Run {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "src/local/start.ts", ...args], {
    cwd: process.cwd(),
    env: { ...process.env, CI: "1" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.on("data", (d: Buffer) => stdout.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout, stderr, exited };
}

async function until(what: string, probe: () => boolean, timeoutInMs: number, run: Run): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}. stderr: ${run.stderr.join("").slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("kill -9 of the whole stack mid-burst, then a restart on the same state dir", () => {
  it("every VM converges: no twin assignment, no row lost, every grant matches its VM's tags", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aadlogin-crash-"));
    dirs.push(dir);
    const alice = DEMO_PRINCIPALS.alice.id;
    const bob = DEMO_PRINCIPALS.bob.id;
    const fleet = Array.from({ length: N }, (_, i) => vm(i, i % 3 === 0 ? `${alice},${bob}` : alice));
    const fleetFile = join(dir, "fleet.json-input");
    await writeFile(fleetFile, JSON.stringify(fleet));
    const ports = { arm: await freePort(), identity: await freePort(), functions: await freePort(), table: await freePort(), queue: await freePort() };
    const args = [
      "--json", "--once", "--state-dir", join(dir, "state"), "--fleet", fleetFile, "--timing", "realistic", "--time-scale", "0.05", "--timeout", "150",
      "--arm-port", String(ports.arm), "--identity-port", String(ports.identity), "--functions-port", String(ports.functions),
      "--table-port", String(ports.table), "--queue-port", String(ports.queue),
    ];

    const first = start(args);
    // The owner has created the whole burst; passes are running, operations in flight.
    await until("the fleet to be created", () => first.stderr.join("").includes("converging"), 90_000, first);
    await new Promise((r) => setTimeout(r, 500));
    expect(first.child.exitCode, "the first run must still be converging when it is killed").toBeNull();
    process.kill(-(first.child.pid as number), "SIGKILL");
    await first.exited;
    expect(first.stdout.join("")).not.toContain('"converged":true');

    const second = start(args);
    const code = await second.exited;
    const lines = second.stdout.join("").trim().split("\n");
    const summary = JSON.parse(lines[lines.length - 1] ?? "{}") as { converged?: boolean; vms?: number; counts?: Record<string, number>; unexpected?: unknown[] };
    expect(code, second.stderr.join("").slice(-3000)).toBe(0);
    expect(summary.converged).toBe(true);
    expect(summary.unexpected).toEqual([]);
    // Every VM has its row and is converged. Compliant rather than remediated where the crash took
    // the row's last write with it (Azurite flushes to disk on an interval): the access is right either way.
    const counts = summary.counts ?? {};
    expect(Object.keys(counts).filter((k) => k !== "remediated" && k !== "compliant"), JSON.stringify(counts)).toEqual([]);
    expect((counts["remediated"] ?? 0) + (counts["compliant"] ?? 0)).toBe(N);

    // What ARM holds afterwards, read from the persisted state.
    const arm = await startArmEmulator({ stateDir: join(dir, "state", "arm"), persist: true });
    try {
      const assignments = [...arm.state.roleAssignments.values()];
      for (const v of fleet) {
        const mine = assignments.filter((a) => a.scope.toLowerCase() === v.id.toLowerCase());
        const wanted = v.body.tags["aadlogin-admins"].split(",").map((p) => `${ADMIN_ROLE}:${p}`).sort();
        // One assignment per (role, principal): no twin, and exactly what the tags ask for.
        expect(mine.map((a) => `${a.roleDefinitionGuid}:${a.principalId}`).sort(), v.id).toEqual(wanted);
      }
    } finally {
      await arm.close();
    }
  }, 300_000);
});
