import { createHash } from "node:crypto";
import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { ArmError } from "./errors.js";
import { isObject, type Json } from "./http-io.js";
import { KqlError, parseKql, type Query } from "./kql.js";
import { runKql, type KqlTable, type Row } from "./kql-eval.js";
import { HISTORY_RETENTION_MS, ResourceGraphHistory } from "./resource-graph-history.js";
import { hhmmss, ResourceGraphQuota } from "./resource-graph-quota.js";
import { assignmentRow, RESOURCE_COLUMNS, vmRows, type GraphRow } from "./resource-graph-rows.js";
import { scopeKey } from "./scope.js";
import type { EmulatorState } from "./state.js";

/** `$top` is 1..1000 (the REST spec); without it Resource Graph returns up to 1,000 records ("Working with large data sets"). */
export const MAX_TOP = 1000;
/** Realistic timing's lag before a change shows in Resource Graph, in Azure seconds (× timeScale). */
export const REALISTIC_GRAPH_LAG_S = 5;

const SUPPORT_MESSAGE = (now: number, correlationId: string): string =>
  `Please provide below info when asking for support: timestamp = ${new Date(now).toISOString()}, correlationId = ${correlationId}.`;
const INVALID_QUERY = "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.";

/**
 * Resource Graph's error envelope: a generic top-level code and message (the support line), the
 * specifics in `details` (seen in answers quoted in Azure/aztfexport#485, Azure/azure-powershell#13762,
 * Azure/azure-cli-extensions#3325).
 */
const graphError = (status: number, code: string, message: string, details: readonly Json[], headers: Record<string, string> = {}): ArmError =>
  new ArmError(status, code, message, headers, undefined, details);

/** Resource Graph's state in one emulator: the history it reads, the users' quota, and who may read what. */
export class ResourceGraph {
  readonly history: ResourceGraphHistory;
  readonly quota = new ResourceGraphQuota();
  /**
   * Whether a principal may read a resource: Resource Graph returns only the rows its caller could GET.
   * Everything, until an authorization model plugs in here.
   */
  canRead: (principalId: string, resourceId: string) => boolean = () => true;

  constructor(
    private readonly state: EmulatorState,
    /** A handler context for rendering (instant timing, no events). */
    private readonly renderContext: () => HandlerContext,
    readonly lagMs: () => number,
  ) {
    this.history = new ResourceGraphHistory(() => this.lagMs() + HISTORY_RETENTION_MS);
  }

  clear(): void {
    this.history.clear();
    this.quota.clear();
  }

  /** A VM (and its extensions) may have changed: its rows as of `at`. */
  recordVm(vmKey: string, at: number): void {
    const vm = this.state.vms.get(vmKey.toLowerCase());
    this.history.recordOwner(`vm:${vmKey}`, vm ? vmRows(this.renderContext(), vm, this.state.tenantId) : new Map(), at);
  }

  /** A role assignment (by scope and name) may have changed. */
  recordAssignment(scope: string, name: string, at: number): void {
    const key = `${scopeKey(scope)}|${name.toLowerCase()}`;
    const a = this.state.roleAssignments.get(key);
    const rows = new Map<string, GraphRow>();
    if (a) {
      const row = assignmentRow(a, this.state.tenantId);
      rows.set(String(row.row["id"]).toLowerCase(), row);
    }
    this.history.recordOwner(`ra:${key}`, rows, at);
  }

  /** Re-reads everything (after a seed, a restore, a resource group delete). */
  recordAll(at: number): void {
    const owners = new Set<string>();
    for (const key of this.state.vms.keys()) {
      owners.add(`vm:${key}`);
      this.recordVm(key, at);
    }
    for (const [key, a] of this.state.roleAssignments) {
      owners.add(`ra:${key}`);
      this.recordAssignment(a.scope, a.name, at);
    }
    this.history.forgetOwnersExcept(owners, at);
  }
}

const VM_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)(?:\/|$)/i;
const ASSIGNMENT_PATH = /^(.*?)\/providers\/Microsoft\.Authorization\/roleAssignments\/([^/]+)$/i;
const RG_PATH = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i;

/** What an ARM write on `path` may have changed, recorded at `at`. */
export function recordArmWrite(graph: ResourceGraph, method: string, path: string, at: number): void {
  const assignment = ASSIGNMENT_PATH.exec(path);
  if (assignment) return graph.recordAssignment(assignment[1] || "/", assignment[2] ?? "", at);
  const vm = VM_PATH.exec(path);
  if (vm) return graph.recordVm(`${vm[1]}/${vm[2]}/${vm[3]}`.toLowerCase(), at);
  if (method === "DELETE" && RG_PATH.test(path)) graph.recordAll(at);
}

interface QueryOptions {
  readonly top?: number;
  readonly skip?: number;
  readonly skipToken?: string;
  readonly resultFormat: "objectArray" | "table";
}

interface SkipToken {
  /** Offset of the next page. */
  readonly o: number;
  /** Page size. */
  readonly t: number;
  /** The as-of instant of the first page: every page reads the same snapshot. */
  readonly a: number;
  /** Hash of the query and scopes the token belongs to. */
  readonly h: string;
}

const badRequest = (ctx: HandlerContext, req: ArmRequest, details: Json[], headers: Record<string, string>): ArmError =>
  graphError(400, "BadRequest", SUPPORT_MESSAGE(ctx.now(), req.correlationId), details, headers);

function readOptions(ctx: HandlerContext, req: ArmRequest, raw: unknown, headers: Record<string, string>): QueryOptions {
  const invalid = (message: string): ArmError => badRequest(ctx, req, [{ code: "InvalidRequestContent", message }], headers);
  if (raw === undefined || raw === null) return { resultFormat: "objectArray" };
  if (!isObject(raw)) throw invalid("'options' must be a JSON object: {$top?, $skip?, $skipToken?, resultFormat?}.");
  const int = (name: string, min: number, max: number): number | undefined => {
    const v = raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalid(`'options.${name}' must be a whole number from ${min} to ${max}; got ${JSON.stringify(v)}.`);
    return v;
  };
  const top = int("$top", 1, MAX_TOP);
  const skip = int("$skip", 0, 2 ** 31 - 1);
  const token = raw["$skipToken"];
  if (token !== undefined && token !== null && typeof token !== "string") throw invalid("'options.$skipToken' must be the string a previous answer returned.");
  const format = raw["resultFormat"] ?? "objectArray";
  if (format !== "objectArray" && format !== "table") throw invalid(`'options.resultFormat' must be "objectArray" or "table"; got ${JSON.stringify(format)}.`);
  return {
    ...(top !== undefined ? { top } : {}),
    ...(skip !== undefined ? { skip } : {}),
    ...(typeof token === "string" && token !== "" ? { skipToken: token } : {}),
    resultFormat: format,
  };
}

function queryError(ctx: HandlerContext, req: ArmRequest, e: KqlError, headers: Record<string, string>): ArmError {
  return badRequest(
    ctx,
    req,
    [
      { code: "InvalidQuery", message: INVALID_QUERY },
      { code: e.code, message: e.message, line: e.line, characterPositionInLine: e.characterPositionInLine, token: e.token },
    ],
    headers,
  );
}

/** Column types for `resultFormat: table`: the first non-null value's JSON type. */
function columnType(rows: readonly Row[], name: string): string {
  const v = rows.map((r) => r[name]).find((x) => x !== null && x !== undefined);
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return "object";
}

/**
 * POST /providers/Microsoft.ResourceGraph/resources: runs the query over ARM's state as of `now - lag`.
 * The answer is `{totalRecords, count, resultTruncated, $skipToken?, data, facets}`; pages need `id` among
 * the output columns and no limit/take, as Resource Graph's paging rules say; otherwise the first page is
 * all there is and `resultTruncated` is "true" when rows were left out.
 */
export function queryResources(ctx: HandlerContext, req: ArmRequest): ArmResponse {
  const graph = ctx.resourceGraph;
  const now = ctx.now();
  const principal = req.caller.principal.id;
  const decision = graph.quota.take(principal, now, ctx.limits.resourceGraphQueriesPerWindow, ctx.limits.resourceGraphWindowMs);
  const headers: Record<string, string> = {
    "x-ms-user-quota-remaining": String(decision.remaining),
    "x-ms-user-quota-resets-after": hhmmss(decision.resetsInMs),
  };
  if (!decision.allowed) {
    throw graphError(
      429,
      "RateLimiting",
      SUPPORT_MESSAGE(now, req.correlationId),
      [
        {
          code: "RateLimiting",
          message:
            "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. " +
            "Please see https://aka.ms/resourcegraph-throttling for help.",
        },
      ],
      { ...headers, "Retry-After": String(Math.max(1, Math.ceil(decision.resetsInMs / 1000))) },
    );
  }
  const body = req.body;
  const invalid = (message: string): ArmError => badRequest(ctx, req, [{ code: "InvalidRequestContent", message }], headers);
  if (!isObject(body)) throw invalid("The body must be a JSON object: {subscriptions?, query, options?}.");
  if (typeof body["query"] !== "string" || body["query"].trim() === "") throw invalid("'query' is required: a KQL query such as \"Resources | project id, name\".");
  if (body["managementGroups"] !== undefined) throw invalid("Management group scopes are outside the local emulator's Resource Graph: send 'subscriptions'.");
  if (Array.isArray(body["facets"]) && body["facets"].length > 0) throw invalid("Facets are outside the local emulator's Resource Graph.");
  const subs = body["subscriptions"];
  if (subs !== undefined && (!Array.isArray(subs) || subs.some((s) => typeof s !== "string"))) throw invalid("'subscriptions' must be an array of subscription ids.");
  const options = readOptions(ctx, req, body["options"], headers);
  const text = body["query"];

  let query: Query;
  try {
    query = parseKql(text);
  } catch (e) {
    if (e instanceof KqlError) throw queryError(ctx, req, e, headers);
    throw e;
  }
  const scopes = subs === undefined ? undefined : new Set((subs as string[]).map((s) => s.toLowerCase()));
  // Subscriptions that do not exist are skipped without a word; when none of them does, Resource Graph
  // refuses the query (NoValidSubscriptionsInQueryRequest, as users quote it, e.g. Azure/aztfexport#331).
  if (scopes && ![...scopes].some((s) => ctx.state.subscription(s))) {
    throw badRequest(ctx, req, [
      { code: "NoValidSubscriptionsInQueryRequest", message: `There must be at least one subscription that is eligible to contain resources. Given: '${(subs as string[]).join("','")}'.` },
    ], headers);
  }
  const hash = createHash("sha256").update(JSON.stringify([text, scopes ? [...scopes].sort() : null])).digest("hex").slice(0, 16);

  let token: SkipToken | undefined;
  if (options.skipToken !== undefined) {
    token = decodeToken(options.skipToken);
    const tokenError = (why: string): ArmError => badRequest(ctx, req, [{ code: "InvalidSkipToken", message: `The $skipToken is not valid: ${why}.` }], headers);
    if (!token) throw tokenError("it is not one this service issued");
    if (token.h !== hash) throw tokenError("it belongs to another query or other subscriptions; send the same query and subscriptions as the first page");
    if (token.a < graph.history.horizon(now)) throw tokenError("it expired; run the query again from the first page");
  }
  const asOf = token?.a ?? now - graph.lagMs();

  const readable = (row: Json): boolean => {
    const sub = String(row["subscriptionId"] ?? "").toLowerCase();
    if (scopes && !scopes.has(sub)) return false;
    return graph.canRead(principal, String(row["id"] ?? ""));
  };
  const byId = (a: Json, b: Json): number => {
    const x = String(a["id"]);
    const y = String(b["id"]);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const table = (name: GraphRow["table"]): KqlTable => ({
    columns: RESOURCE_COLUMNS,
    rows: query.table.toLowerCase() === name.toLowerCase() ? graph.history.rowsAsOf(name, asOf, now).filter(readable).sort(byId) : [],
  });
  let result;
  try {
    result = runKql(query, { Resources: table("Resources"), AuthorizationResources: table("AuthorizationResources") });
  } catch (e) {
    if (e instanceof KqlError) throw queryError(ctx, req, e, headers);
    throw e;
  }

  const total = result.rows.length;
  const pageable = !result.limited && result.columns.includes("id");
  const top = options.top ?? token?.t ?? MAX_TOP;
  // "If you use limit or take in the query, skip is ignored" ("Working with large Azure resource data sets").
  const start = result.limited ? 0 : (options.skip ?? token?.o ?? 0);
  const rows = result.rows.slice(start, start + top);
  const more = start + rows.length < total;
  const next: SkipToken | undefined = more && pageable ? { o: start + rows.length, t: top, a: asOf, h: hash } : undefined;
  const data =
    options.resultFormat === "table"
      ? { columns: result.columns.map((name) => ({ name, type: columnType(result.rows, name) })), rows: rows.map((r) => result.columns.map((c) => r[c] ?? null)) }
      : rows;
  return {
    status: 200,
    headers,
    body: {
      totalRecords: total,
      count: rows.length,
      resultTruncated: more && !pageable ? "true" : "false",
      ...(next ? { $skipToken: Buffer.from(JSON.stringify(next)).toString("base64") } : {}),
      data,
      facets: [],
    },
  };
}

function decodeToken(text: string): SkipToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, "base64").toString("utf8")) as Partial<SkipToken>;
    const ok = [t.o, t.t, t.a].every((n) => typeof n === "number" && Number.isFinite(n)) && typeof t.h === "string";
    return ok ? (t as SkipToken) : undefined;
  } catch {
    return undefined;
  }
}
