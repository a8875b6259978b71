import { badRequest } from "./errors.js";
import { isObject } from "./http-io.js";
import type { EmulatorLimits } from "./state.js";

/**
 * How long Azure takes, as the emulator plays it.
 *
 * `instant` (the default) is the emulator's historical behaviour: every LRO ends after
 * `limits.lroDelayMs`, role-assignment writes answer at once, a principal is known after
 * `limits.principalReplicationDelayMs`, Event Grid delivers at once and backs off by `initialBackoffMs`.
 *
 * `realistic` draws every duration uniformly from the range Azure shows (table below, in seconds,
 * unscaled) with a seeded PRNG, multiplied by `timeScale` (0.01 in tests, 0.1 in the demo), so a run
 * keeps Azure's proportions and is repeatable for a given seed and request sequence.
 * Sources are listed in the README ("Local Azure" → "Timing profiles").
 */
export type TimingProfile = "instant" | "realistic";

export interface TimingSettings {
  readonly profile: TimingProfile;
  /** Multiplies every realistic duration; 1 = Azure's own. */
  readonly timeScale: number;
  /** Seed of the PRNG that draws the durations. */
  readonly seed: number;
}

export const DEFAULT_TIMING: TimingSettings = { profile: "instant", timeScale: 1, seed: 1 };

export type OperationKind = "vm-create" | "vm-update" | "vm-delete" | "vm-power" | "extension-put" | "extension-delete";
export type DurationKind = OperationKind | "role-assignment-write" | "principal-replication" | "event-delivery-latency";

/** Unscaled ranges in seconds: [min, max], drawn uniformly. */
export const REALISTIC_SECONDS: Readonly<Record<DurationKind, readonly [number, number]>> = {
  "vm-create": [60, 120],
  "vm-update": [10, 30],
  "vm-delete": [30, 90],
  "vm-power": [20, 60],
  "extension-put": [90, 180],
  "extension-delete": [30, 60],
  "role-assignment-write": [0.5, 1.5],
  "principal-replication": [60, 300],
  "event-delivery-latency": [1, 5],
};

/** Event Grid waits this long for a webhook's answer (Microsoft, "Event Grid message delivery and retry"). */
export const EVENT_GRID_RESPONSE_TIMEOUT_S = 30;
/** Delay before retry n (n = 1..9) after a failed attempt; then every 12 hours until the 24-hour time to live. */
export const EVENT_GRID_RETRY_SCHEDULE_S: readonly number[] = [10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600];
export const EVENT_GRID_LATER_RETRY_S = 12 * 3600;
export const EVENT_GRID_TTL_S = 24 * 3600;

/** mulberry32: tiny, seedable, and its whole state is one 32-bit number (persisted with the state). */
function nextRandom(state: number): { value: number; state: number } {
  const a = (state + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: a };
}

/** What handlers need to know about time: how long an LRO runs and whether a response waits. */
export interface TimingView {
  readonly realistic: boolean;
  /** How long an LRO of this kind stays InProgress (instant: `limits.lroDelayMs`). */
  lroDelayMs(kind: OperationKind, limits: EmulatorLimits): number;
  /** How long the response to a non-LRO write waits (instant: 0). */
  responseDelayMs(kind: "role-assignment-write"): number;
}

/** The view seeding uses: seeded resources exist already, whatever the profile. */
export const INSTANT_VIEW: TimingView = {
  realistic: false,
  lroDelayMs: (_kind, limits) => limits.lroDelayMs,
  responseDelayMs: () => 0,
};

export function validateTiming(input: unknown, current: TimingSettings): TimingSettings {
  if (!isObject(input)) throw badRequest("InvalidRequestContent", "The timing must be a JSON object: {profile?: \"instant\"|\"realistic\", timeScale?: number, seed?: integer}.");
  const unknown = Object.keys(input).filter((k) => !["profile", "timeScale", "seed"].includes(k));
  if (unknown.length > 0) {
    throw badRequest("InvalidRequestContent", `Unknown timing field(s) ${unknown.map((k) => `'${k}'`).join(", ")}; allowed: profile, timeScale, seed.`);
  }
  const { profile, timeScale, seed } = input;
  if (profile !== undefined && profile !== "instant" && profile !== "realistic") {
    throw badRequest("InvalidRequestContent", `'profile' must be "instant" or "realistic"; got ${JSON.stringify(profile)}.`);
  }
  if (timeScale !== undefined && (typeof timeScale !== "number" || !Number.isFinite(timeScale) || timeScale <= 0)) {
    throw badRequest("InvalidRequestContent", `'timeScale' must be a number greater than 0 (e.g. 0.01 for tests, 1 for Azure's own durations); got ${JSON.stringify(timeScale)}.`);
  }
  if (seed !== undefined && (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
    throw badRequest("InvalidRequestContent", `'seed' must be an integer from 0 to 4294967295; got ${JSON.stringify(seed)}.`);
  }
  return {
    profile: (profile as TimingProfile | undefined) ?? current.profile,
    timeScale: (timeScale as number | undefined) ?? current.timeScale,
    seed: (seed as number | undefined) ?? current.seed,
  };
}

/** The timing profile in force and its PRNG. */
export class Timing implements TimingView {
  private current: TimingSettings;
  private rng: number;

  constructor(settings: TimingSettings, rngState?: number) {
    this.current = settings;
    this.rng = rngState ?? settings.seed >>> 0;
  }

  get settings(): TimingSettings {
    return this.current;
  }

  get realistic(): boolean {
    return this.current.profile === "realistic";
  }

  /** The PRNG's position, so a restored emulator draws what the old one would have drawn next. */
  get rngState(): number {
    return this.rng;
  }

  /** Applies a validated change; a given seed restarts the PRNG (the same seed gives the same draws again). */
  set(input: unknown): TimingSettings {
    const next = validateTiming(input, this.current);
    this.current = next;
    if (isObject(input) && input["seed"] !== undefined) this.rng = next.seed >>> 0;
    return next;
  }

  /** Restores the settings and PRNG of a start (reset) or of a state file. */
  replace(settings: TimingSettings, rngState?: number): void {
    this.current = settings;
    this.rng = rngState ?? settings.seed >>> 0;
  }

  /** A realistic duration in ms: uniform in the kind's range, times timeScale. */
  draw(kind: DurationKind): number {
    const [min, max] = REALISTIC_SECONDS[kind];
    const { value, state } = nextRandom(this.rng);
    this.rng = state;
    return Math.round((min + (max - min) * value) * 1000 * this.current.timeScale);
  }

  scaledMs(seconds: number): number {
    return Math.round(seconds * 1000 * this.current.timeScale);
  }

  lroDelayMs(kind: OperationKind, limits: EmulatorLimits): number {
    return this.realistic ? this.draw(kind) : limits.lroDelayMs;
  }

  responseDelayMs(kind: "role-assignment-write"): number {
    return this.realistic ? this.draw(kind) : 0;
  }

  /** Realistic principals are unknown to role-assignment writes this long after creation; undefined in instant. */
  replicationDelayMs(): number | undefined {
    return this.realistic ? this.draw("principal-replication") : undefined;
  }
}
