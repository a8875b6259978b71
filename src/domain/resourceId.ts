/**
 * ARM resource ids of virtual machines. ARM treats the literal segments (`subscriptions`,
 * `resourceGroups`, `providers`, `Microsoft.Compute`, `virtualMachines`) and the names themselves
 * case-insensitively, and its own responses mix casings (`resourcegroups`, `microsoft.compute`), so
 * every comparison here ignores case while the names keep the casing they were given.
 */
export interface VmRef {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

import { quoteInput } from "./text.js";

export const VM_ID_SHAPE =
  "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}";

const LITERALS: ReadonlyArray<readonly [index: number, literal: string]> = [
  [1, "subscriptions"],
  [3, "resourceGroups"],
  [5, "providers"],
  [6, "Microsoft.Compute"],
  [7, "virtualMachines"],
];
const VM_SEGMENTS = 9; // "" + 8 segments: the leading slash makes the first one empty

// Names never contain these; accepting them would let a query string or a second path ride along.
const BAD_NAME_CHARS = /[\s?#%\\\u0000-\u001f\u007f]/u;

/**
 * ARM's naming limits (Microsoft's "Naming rules and restrictions for Azure resources"): a resource
 * group name has at most 90 characters, a VM name at most 64 (15 for a Windows computer name); a
 * subscription id is a GUID (36; 64 leaves room for placeholders). Longer is not an ARM id, and would
 * not fit a Table Storage key (1 KiB) once encoded.
 */
const MAX_SEGMENT: ReadonlyArray<readonly [index: number, max: number]> = [[2, 64], [4, 90], [8, 64]];
/** Longer than any VM id or id beneath one; refused before it is even split. */
const MAX_ID_LENGTH = 2048;

function segmentsOf(id: string): string[] | undefined {
  if (typeof id !== "string" || !id.startsWith("/") || id.length > MAX_ID_LENGTH) return undefined;
  const segments = id.split("/");
  if (segments.length < VM_SEGMENTS) return undefined;
  for (const [index, literal] of LITERALS) {
    if (segments[index]?.toLowerCase() !== literal.toLowerCase()) return undefined;
  }
  for (const [index, max] of MAX_SEGMENT) {
    if ((segments[index]?.length ?? 0) > max) return undefined;
  }
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] ?? "";
    // "." and ".." would let a path normalizer (a proxy, a URL parser) move the request elsewhere.
    if (s === "" || s === "." || s === ".." || BAD_NAME_CHARS.test(s)) return undefined;
  }
  return segments;
}

function refOf(segments: readonly string[]): VmRef {
  return { subscriptionId: segments[2] ?? "", resourceGroup: segments[4] ?? "", name: segments[8] ?? "" };
}

/** The parts of a VM id, or undefined when the id is not exactly a VM id. */
export function tryParseVmId(id: string): VmRef | undefined {
  const segments = segmentsOf(id);
  return segments && segments.length === VM_SEGMENTS ? refOf(segments) : undefined;
}

/** The parts of a VM id; throws an error naming the input and the expected shape otherwise. */
export function parseVmId(id: string): VmRef {
  const ref = tryParseVmId(id);
  if (!ref) {
    throw new Error(`Not a virtual machine id: ${quoteInput(id)}. Expected ${VM_ID_SHAPE}.`);
  }
  return ref;
}

/** A VM id parsed once at the edge: its parts, and the id as given. Every hop after carries this. */
export interface VmTarget extends VmRef {
  readonly id: string;
}

/** The VM a request names, parsed once; throws like parseVmId. */
export function vmTarget(id: string): VmTarget {
  return { id, ...parseVmId(id) };
}

/** The VM id in ARM's documented casing; the names keep their own casing. */
export function formatVmId(ref: VmRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${ref.name}`;
}

function normalizeId(id: string): string {
  return id.trim().replace(/\/+$/, "").toLowerCase();
}

/** Whether two ARM ids name the same resource (ARM ids are case-insensitive). */
export function sameResourceId(a: string, b: string): boolean {
  return normalizeId(a) === normalizeId(b);
}

/**
 * The id of the VM that an id names or lies beneath (`.../virtualMachines/{vm}/extensions/x`,
 * `.../virtualMachines/{vm}/providers/Microsoft.Authorization/roleAssignments/{guid}`), or undefined.
 * Event Grid subjects are such ids: a subject-prefix filter on virtualMachines also delivers them.
 */
export function vmIdOfChild(id: string): string | undefined {
  const segments = segmentsOf(id);
  return segments ? formatVmId(refOf(segments)) : undefined;
}
