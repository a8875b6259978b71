import type { ComputeThrottle } from "./compute-throttling.js";
import type { ArmError } from "./errors.js";
import type { Json } from "./http-io.js";
import type { LroTracker } from "./lro.js";
import type { ResourceGraph } from "./resource-graph.js";
import type { EmulatorLimits, EmulatorState, Principal } from "./state.js";
import type { TimingView } from "./timing.js";
import type { TokenClaims } from "./tokens.js";

export interface Caller {
  readonly principal: Principal;
  readonly claims: TokenClaims;
}

export interface ArmRequest {
  readonly method: string;
  /** The path after collapsing duplicate slashes, original casing. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
  readonly apiVersion: string;
  readonly caller: Caller;
  readonly correlationId: string;
  readonly clientRequestId: string;
  readonly clientIp: string;
  /** The URL as the client sent it, for events' httpRequest.url. */
  readonly url: string;
}

export interface ArmResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export type EventKind = "Write" | "Delete" | "Action";

export interface ResourceEventInput {
  readonly kind: EventKind;
  readonly resourceUri: string;
  readonly operationName: string;
  readonly subscriptionId: string;
}

/** What a handler may touch: the data, the limits and timing in force, LROs, the clock and the event source. */
export interface HandlerContext {
  readonly state: EmulatorState;
  readonly limits: EmulatorLimits;
  readonly timing: TimingView;
  readonly lro: LroTracker;
  readonly resourceGraph: ResourceGraph;
  readonly computeThrottle: ComputeThrottle;
  readonly baseUrl: string;
  now(): number;
  emit(event: ResourceEventInput): void;
  /** An LRO failure injected by the fault rules for this request, if any. */
  readonly injectedLroFailure?: ArmError;
}

export type Handler = (ctx: HandlerContext, req: ArmRequest) => ArmResponse | Promise<ArmResponse>;

export function header(req: ArmRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export type { Json };
