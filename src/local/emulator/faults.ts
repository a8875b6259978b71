import { ArmError, badRequest } from "./errors.js";
import { isObject } from "./http-io.js";

export interface FaultMatch {
  readonly method?: string;
  readonly pathContains?: string;
  readonly operation?: string;
}

export interface FaultRule {
  readonly match?: FaultMatch;
  readonly status?: 429 | 500 | 503 | "reset";
  readonly rate?: number;
  readonly count?: number;
  readonly retryAfterSeconds?: number;
  readonly latencyMs?: number;
}

export interface LroFailureRule {
  readonly match?: FaultMatch;
  readonly rate?: number;
  readonly count?: number;
  readonly error?: { code?: string; message?: string };
}

export interface FaultConfig {
  readonly seed?: number;
  readonly rules?: readonly FaultRule[];
  readonly lroFailures?: readonly LroFailureRule[];
}

export interface FaultDecision {
  readonly latencyMs: number;
  readonly status?: 429 | 500 | 503 | "reset";
  readonly retryAfterSeconds?: number;
  readonly lroFailure?: ArmError;
}

/** mulberry32: a tiny seeded PRNG, so a fault run with the same seed and requests fails the same calls. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function matches(match: FaultMatch | undefined, method: string, path: string, operation: string): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== method) return false;
  if (match.pathContains && !path.toLowerCase().includes(match.pathContains.toLowerCase())) return false;
  if (match.operation && match.operation.toLowerCase() !== operation.toLowerCase()) return false;
  return true;
}

const STATUSES = [429, 500, 503, "reset"];

/** Fault injection for ARM calls (never admin calls): errors, connection resets, latency, LROs that end Failed. */
export class Faults {
  private config: FaultConfig = {};
  private random: () => number = prng(0);
  private hits: number[] = [];
  private lroHits: number[] = [];

  set(config: unknown): void {
    if (!isObject(config)) throw badRequest("InvalidRequestContent", "Fault configuration must be a JSON object.");
    const rules = config["rules"] ?? [];
    const lroFailures = config["lroFailures"] ?? [];
    if (!Array.isArray(rules) || !Array.isArray(lroFailures)) throw badRequest("InvalidRequestContent", "'rules' and 'lroFailures' must be arrays.");
    for (const rule of rules as FaultRule[]) {
      if (rule.status !== undefined && !STATUSES.includes(rule.status)) {
        throw badRequest("InvalidRequestContent", `Fault status must be one of 429, 500, 503, "reset"; got ${JSON.stringify(rule.status)}.`);
      }
      if (rule.rate !== undefined && (typeof rule.rate !== "number" || rule.rate < 0 || rule.rate > 1)) {
        throw badRequest("InvalidRequestContent", `Fault rate must be a number from 0 to 1; got ${JSON.stringify(rule.rate)}.`);
      }
    }
    this.config = { seed: Number(config["seed"] ?? 0), rules: rules as FaultRule[], lroFailures: lroFailures as LroFailureRule[] };
    this.random = prng(this.config.seed ?? 0);
    this.hits = (rules as FaultRule[]).map(() => 0);
    this.lroHits = (lroFailures as LroFailureRule[]).map(() => 0);
  }

  clear(): void {
    this.set({});
  }

  current(): FaultConfig {
    return this.config;
  }

  decide(method: string, path: string, operation: string): FaultDecision {
    let latencyMs = 0;
    let status: FaultDecision["status"];
    let retryAfterSeconds: number | undefined;
    (this.config.rules ?? []).forEach((rule, i) => {
      // The first status rule that fires decides the response; later status rules keep their budget.
      if (!matches(rule.match, method, path, operation) || (status !== undefined && rule.status !== undefined)) return;
      if (rule.count !== undefined && (this.hits[i] ?? 0) >= rule.count) return;
      if (this.random() >= (rule.rate ?? 1)) return;
      this.hits[i] = (this.hits[i] ?? 0) + 1;
      latencyMs += rule.latencyMs ?? 0;
      if (rule.status !== undefined && status === undefined) {
        status = rule.status;
        retryAfterSeconds = rule.retryAfterSeconds;
      }
    });
    let lroFailure: ArmError | undefined;
    (this.config.lroFailures ?? []).forEach((rule, i) => {
      if (lroFailure || !matches(rule.match, method, path, operation)) return;
      if (rule.count !== undefined && (this.lroHits[i] ?? 0) >= rule.count) return;
      if (this.random() >= (rule.rate ?? 1)) return;
      this.lroHits[i] = (this.lroHits[i] ?? 0) + 1;
      lroFailure = new ArmError(500, rule.error?.code ?? "InternalExecutionError", rule.error?.message ?? "An internal execution error occurred. Please retry later.");
    });
    return {
      latencyMs,
      ...(status !== undefined ? { status } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      ...(lroFailure ? { lroFailure } : {}),
    };
  }
}
