/**
 * Runs the ARM emulator alone:
 *   npx tsx src/local/emulator/main.ts [--port 8443] [--identity-port 0] [--state-dir .local/arm [--persist]]
 *     [--timing instant|realistic] [--time-scale 0.1] [--lro-delay-ms 50] [--page-size 50] [--seed file.json]
 * `--persist` keeps the whole ARM state in the state directory and resumes from it on the next start
 * (give the same ports again: clients keep their URLs). Prints the ARM URL, admin URL, CA file and
 * managed identity settings; Ctrl+C stops it.
 * `runEmulatorMain` is the same for other entry points (the CLI's `emulator` command).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startArmEmulator, type ArmEmulator, type TimingProfile } from "./index.js";

export interface EmulatorMainOptions {
  readonly port?: number;
  readonly identityPort?: number;
  readonly host?: string;
  readonly stateDir?: string;
  /** Keep the ARM state in `stateDir` and resume from it. */
  readonly persist?: boolean;
  readonly timing?: TimingProfile;
  readonly timeScale?: number;
  readonly lroDelayMs?: number;
  readonly pageSize?: number;
  /** A JSON file in the admin API's seed format. */
  readonly seedFile?: string;
}

/** Starts the emulator, prints where it is, stops it on SIGINT/SIGTERM. */
export async function runEmulatorMain(options: EmulatorMainOptions = {}): Promise<ArmEmulator> {
  const emulator = await startArmEmulator({
    port: options.port ?? 8443,
    identityPort: options.identityPort ?? 0,
    host: options.host ?? "127.0.0.1",
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    ...(options.persist ? { persist: true } : {}),
    ...(options.timing !== undefined || options.timeScale !== undefined
      ? { timing: { ...(options.timing ? { profile: options.timing } : {}), ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}) } }
      : {}),
    ...(options.lroDelayMs !== undefined ? { lroDelayMs: options.lroDelayMs } : {}),
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
  });
  // A resumed state already holds what the seed made (and what happened since): seeding again would redo it.
  if (options.seedFile && !emulator.resumed) emulator.seed(JSON.parse(await readFile(options.seedFile, "utf8")));
  console.log(`ARM emulator:        ${emulator.armUrl}`);
  console.log(`Admin API:           ${emulator.adminUrl}`);
  console.log(`CA certificate:      ${emulator.caFile}`);
  console.log(`IDENTITY_ENDPOINT=${emulator.identityEndpoint}`);
  console.log(`IDENTITY_HEADER=${emulator.identityHeader}`);
  console.log(`Managed identity:    principalId ${emulator.managedIdentity.principalId}, clientId ${emulator.managedIdentity.clientId}, tenant ${emulator.tenantId}`);
  console.log("RBAC:                enforced; a principal holds no role until granted (POST <admin>/roleAssignments, or the seed's roleAssignments)");
  const timing = emulator.timing();
  console.log(`Timing:              ${timing.profile}${timing.profile === "realistic" ? ` × ${timing.timeScale} (seed ${timing.seed})` : ""}`);
  if (emulator.stateFile) console.log(`State file:          ${emulator.stateFile}${emulator.resumed ? " (resumed)" : ""}`);
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return emulator;
}

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${value}'.`);
  return n;
}

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a number greater than 0 (e.g. 0.1), got '${value}'.`);
  return n;
}

function profile(value: string | undefined): TimingProfile | undefined {
  if (value === undefined) return undefined;
  if (value !== "instant" && value !== "realistic") throw new Error(`--timing must be 'instant' or 'realistic', got '${value}'.`);
  return value;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  try {
    const { values } = parseArgs({
      options: {
        port: { type: "string", default: "8443" },
        "identity-port": { type: "string", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        "state-dir": { type: "string" },
        persist: { type: "boolean", default: false },
        timing: { type: "string" },
        "time-scale": { type: "string" },
        "lro-delay-ms": { type: "string" },
        "page-size": { type: "string" },
        seed: { type: "string" },
      },
    });
    const lroDelayMs = number("lro-delay-ms", values["lro-delay-ms"]);
    const timing = profile(values.timing);
    const timeScale = positive("time-scale", values["time-scale"]);
    if (values.persist && !values["state-dir"]) throw new Error("--persist needs --state-dir DIR (where the state is kept).");
    const pageSize = number("page-size", values["page-size"]);
    await runEmulatorMain({
      port: number("port", values.port) ?? 8443,
      identityPort: number("identity-port", values["identity-port"]) ?? 0,
      host: values.host ?? "127.0.0.1",
      ...(values["state-dir"] ? { stateDir: values["state-dir"] } : {}),
      ...(values.persist ? { persist: true } : {}),
      ...(timing ? { timing } : {}),
      ...(timeScale !== undefined ? { timeScale } : {}),
      ...(lroDelayMs !== undefined ? { lroDelayMs } : {}),
      ...(pageSize !== undefined ? { pageSize } : {}),
      ...(values.seed ? { seedFile: values.seed } : {}),
    });
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
