import { closeSync, openSync, readFileSync, renameSync, rmSync, writevSync } from "node:fs";
import { join } from "node:path";
import type { ChangeSink, EmulatorCore } from "./emulator-core.js";
import type { DeadLetter, DeliveryState } from "./event-delivery.js";
import type { DirectoryState } from "./graph-devices.js";
import { isObject } from "./http-io.js";
import type { LroOperation } from "./lro.js";
import type { NetworkResource } from "./network.js";
import type { RoleDefinitionRecord } from "./role-definitions.js";
import { scopeKey } from "./scope.js";
import type { EmulatorLimits, ExtensionRecord, Principal, ResourceGroupRecord, RoleAssignmentRecord, SubscriptionRecord, VmRecord, VmSimulation } from "./state.js";
import type { TimingSettings } from "./timing.js";

/**
 * The emulator's whole ARM state in one JSON file (`<stateDir>/arm-emulator-state.json`), so a new
 * emulator on the same directory resumes where the old one was, as Azure would after our Functions
 * host crashed (Azure itself did not).
 *
 * When: synchronously before the answer to every request that changed something goes out (ARM and
 * admin), after operations settle on their timer, and at most every 200 ms for background Event Grid
 * progress (an acknowledgement lost to a crash means the event is delivered once more: at least once).
 * How: a temp file, then rename (atomic on the same file system; no fsync, so it survives the
 * process being killed, not the machine losing power).
 * The directory Microsoft Graph serves (devices, app-role grants, joins) is kept too: small, written whole.
 * Cost: VMs, principals, role assignments, operations and events are serialized (to UTF-8) once and
 * reused until they change, and the pieces go to the file in one gathered write: a write costs the
 * changed records and the write itself.
 *
 * Not kept: the request log, the list of raised events (`events()`), throttling buckets, fault rules.
 */
export const STATE_FILE_NAME = "arm-emulator-state.json";
const FORMAT = "aadlogin-arm-emulator-state";
const VERSION = 1;

export interface PersistedIdentity {
  readonly tenantId: string;
  readonly signingKey: string;
  readonly managedIdentity: { readonly principalId: string; readonly clientId: string };
  readonly identityHeader: string;
  readonly ca: { readonly certPem: string; readonly keyPem: string };
}

type PersistedVm = Omit<VmRecord, "extensions"> & { extensions: ExtensionRecord[] };

export interface PersistedDocument extends PersistedIdentity {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly savedAt: string;
  readonly limits: EmulatorLimits;
  readonly timing: TimingSettings & { readonly rngState: number };
  readonly subscriptions: SubscriptionRecord[];
  readonly resourceGroups: ResourceGroupRecord[];
  readonly customRoles: RoleDefinitionRecord[];
  readonly userAssignedIdentities: Array<[string, { principalId: string; clientId: string }]>;
  readonly pendingSimulations: Array<[string, Partial<VmSimulation>]>;
  /** Absent in files written before the emulator served Microsoft.Network: read as none. */
  readonly network?: NetworkResource[];
  /** Microsoft Graph's devices, app-role grants and joins; absent in files written before the Graph emulation: read as none. */
  readonly directory?: DirectoryState;
  readonly eventGrid: DeliveryState;
  readonly principals: Principal[];
  readonly roleAssignments: RoleAssignmentRecord[];
  readonly operations: LroOperation[];
  readonly virtualMachines: PersistedVm[];
}

const COMMA = Buffer.from(",");
const CLOSE_BRACE = Buffer.from("}");

export const stateFilePath = (stateDir: string): string => join(stateDir, STATE_FILE_NAME);

function corrupt(file: string, reason: string): Error {
  return new Error(
    `The ARM emulator's state file ${file} cannot be used: ${reason}. ` +
      "Restore it from a backup, or move it away (or start with another state directory) to begin with an empty emulator.",
  );
}

/** Reads a state file; undefined when there is none. A file that is there but unusable is an error naming it. */
export function readStateFile(file: string): PersistedDocument | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw corrupt(file, `it could not be read (${(error as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, `it is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(doc) || doc["format"] !== FORMAT) throw corrupt(file, `it is not an ARM emulator state file (no "format": "${FORMAT}")`);
  if (doc["version"] !== VERSION) throw corrupt(file, `it has version ${JSON.stringify(doc["version"])}, this emulator reads version ${VERSION}`);
  const arrays = ["subscriptions", "resourceGroups", "customRoles", "userAssignedIdentities", "pendingSimulations", "principals", "roleAssignments", "operations", "virtualMachines"];
  const missing = arrays.filter((k) => !Array.isArray(doc[k]));
  for (const k of ["limits", "timing", "eventGrid", "managedIdentity", "ca"]) if (!isObject(doc[k])) missing.push(k);
  for (const k of ["tenantId", "signingKey", "identityHeader"]) if (typeof doc[k] !== "string") missing.push(k);
  if (missing.length > 0) throw corrupt(file, `it lacks or has malformed ${missing.join(", ")}`);
  return doc as unknown as PersistedDocument;
}

/** Puts a state file's ARM state into a fresh core (identity, CA and ports are the caller's business). */
export function restoreCore(core: EmulatorCore, doc: PersistedDocument): void {
  const { state } = core;
  state.clear();
  for (const s of doc.subscriptions) state.subscriptions.set(s.subscriptionId.toLowerCase(), s);
  for (const g of doc.resourceGroups) state.putResourceGroup(g);
  for (const p of doc.principals) state.principals.set(p.id.toLowerCase(), p);
  for (const r of doc.customRoles) state.customRoles.set(r.guid.toLowerCase(), r);
  for (const [k, v] of doc.userAssignedIdentities) state.userAssignedIdentities.set(k, v);
  for (const [k, v] of doc.pendingSimulations) state.pendingSimulations.set(k, v);
  for (const n of Array.isArray(doc.network) ? doc.network : []) state.network.set(n.id.toLowerCase(), n);
  core.directory.restore(isObject(doc.directory) ? doc.directory : undefined);
  // Role-assignment keys are `scope|name` (role-assignments.ts).
  for (const a of doc.roleAssignments) state.roleAssignments.set(`${scopeKey(a.scope)}|${a.name.toLowerCase()}`, a);
  for (const { extensions, ...vm } of doc.virtualMachines) {
    state.putVm({ ...vm, extensions: new Map(extensions.map((x) => [x.name.toLowerCase(), x])) });
  }
  Object.assign(core.limits, doc.limits);
  core.throttle.setScale(core.limits.throttleScale);
  const { rngState, ...timing } = doc.timing;
  core.timing.replace(timing, rngState);
  core.lro.restore(doc.operations);
  core.delivery.restore(doc.eventGrid);
}

/** Writes the core's state to its file whenever it changed. */
export class StatePersistence implements ChangeSink {
  private coreDirty = true;
  private allVmsDirty = true;
  private readonly dirtyVms = new Set<string>();
  private readonly vmCache = new Map<string, { record: VmRecord; json: Buffer }>();
  /** Records that never change once made (principals, role assignments, events, dead letters). */
  private readonly frozen = new WeakMap<object, Buffer>();
  private readonly opCache = new WeakMap<LroOperation, { status: string; json: Buffer }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Duration of the last write (ms) and its size (bytes): for measurements. */
  lastWrite = { ms: 0, bytes: 0 };

  constructor(
    readonly file: string,
    private readonly core: EmulatorCore,
    private readonly identity: PersistedIdentity,
  ) {}

  markCore(): void {
    this.coreDirty = true;
  }

  markVm(key: string): void {
    this.coreDirty = true;
    this.dirtyVms.add(key);
  }

  markAllVms(): void {
    this.coreDirty = true;
    this.allVmsDirty = true;
  }

  flush(): void {
    if (this.stopped || !this.coreDirty) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.write();
  }

  flushSoon(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch (error) {
        console.error(`[arm-emulator] writing ${this.file} failed:`, error);
      }
    }, 200);
    this.timer.unref();
  }

  /** Everything again, whatever changed (after `state` was edited directly). */
  flushAll(): void {
    this.markAllVms();
    this.flush();
  }

  /** No more writes (closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private frozenJson(value: object): Buffer {
    let json = this.frozen.get(value);
    if (json === undefined) {
      json = Buffer.from(JSON.stringify(value));
      this.frozen.set(value, json);
    }
    return json;
  }

  private opJson(op: LroOperation): Buffer {
    const cached = this.opCache.get(op);
    if (cached && cached.status === op.status) return cached.json;
    const json = Buffer.from(JSON.stringify(op));
    this.opCache.set(op, { status: op.status, json });
    return json;
  }

  private vmJson(key: string, vm: VmRecord): Buffer {
    const cached = this.vmCache.get(key);
    if (cached && cached.record === vm && !this.allVmsDirty && !this.dirtyVms.has(key)) return cached.json;
    const { extensions, ...rest } = vm;
    const json = Buffer.from(JSON.stringify({ ...rest, extensions: [...extensions.values()] }));
    this.vmCache.set(key, { record: vm, json });
    return json;
  }

  /** The document as UTF-8 pieces (written as they are, never copied into one buffer), reusing what did not change. */
  serialize(): Buffer[] {
    const { core } = this;
    const { state } = core;
    const delivery = core.delivery.exportState();
    const head: Omit<PersistedDocument, "eventGrid" | "principals" | "roleAssignments" | "operations" | "virtualMachines"> & {
      eventGrid: Omit<DeliveryState, "queues" | "deadLetters">;
    } = {
      format: FORMAT,
      version: VERSION,
      savedAt: new Date(core.now()).toISOString(),
      ...this.identity,
      limits: { ...core.limits },
      timing: { ...core.timing.settings, rngState: core.timing.rngState },
      subscriptions: [...state.subscriptions.values()],
      resourceGroups: [...state.resourceGroups.values()],
      customRoles: [...state.customRoles.values()],
      userAssignedIdentities: [...state.userAssignedIdentities],
      pendingSimulations: [...state.pendingSimulations],
      network: [...state.network.values()],
      directory: core.directory.exportState(),
      eventGrid: { options: delivery.options, subscriptions: delivery.subscriptions },
    };
    const parts: Buffer[] = [];
    const text = (t: string): void => void parts.push(Buffer.from(t));
    const list = (items: Iterable<Buffer>): void => {
      let first = true;
      for (const item of items) {
        if (!first) parts.push(COMMA);
        parts.push(item);
        first = false;
      }
    };
    // `{...head, "eventGrid": {options, subscriptions, "queues": {...}, "deadLetters": [...]}, ...records}`
    const headText = JSON.stringify(head);
    text(`${headText.slice(0, -2)},"queues":{`);
    let firstQueue = true;
    for (const [id, entries] of Object.entries(delivery.queues)) {
      text(`${firstQueue ? "" : ","}${JSON.stringify(id)}:[`);
      firstQueue = false;
      list(entries.map(({ event, ...rest }) => Buffer.concat([Buffer.from(`${JSON.stringify(rest).slice(0, -1)},"event":`), this.frozenJson(event), CLOSE_BRACE])));
      text("]");
    }
    text('},"deadLetters":[');
    list(delivery.deadLetters.map((d) => this.frozenJson(d as DeadLetter)));
    text(']},"principals":[');
    list([...state.principals.values()].map((p) => this.frozenJson(p)));
    text('],"roleAssignments":[');
    list([...state.roleAssignments.values()].map((a) => this.frozenJson(a)));
    text('],"operations":[');
    list(core.lro.all().map((op) => this.opJson(op)));
    text('],"virtualMachines":[');
    list([...state.vms].map(([key, vm]) => this.vmJson(key, vm)));
    text("]}");
    if (this.vmCache.size > state.vms.size) for (const key of this.vmCache.keys()) if (!state.vms.has(key)) this.vmCache.delete(key);
    return parts;
  }

  private write(): void {
    const started = performance.now();
    const parts = this.serialize();
    const tmp = `${this.file}.${process.pid}.tmp`;
    let bytes = 0;
    try {
      // Owner-only: the file holds the CA key and the token signing key.
      const fd = openSync(tmp, "w", 0o600);
      try {
        const expected = parts.reduce((n, p) => n + p.length, 0);
        bytes = writevSync(fd, parts);
        if (bytes !== expected) throw new Error(`short write: ${bytes} of ${expected} bytes`);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw new Error(`The ARM emulator could not write its state file ${this.file}: ${(error as Error).message}`);
    }
    this.coreDirty = false;
    this.allVmsDirty = false;
    this.dirtyVms.clear();
    this.lastWrite = { ms: performance.now() - started, bytes };
  }
}
