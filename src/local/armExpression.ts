// A small evaluator of ARM template expressions ("[if(contains(parameters('x'), ...), ...)]") that
// compiled Bicep leaves in a template. The local stack uses it to turn
// infra/app/enforcer-roles.generated.json into the exact condition Azure would receive for a given
// allow-list; the infra tests use it to run what the compiled Bicep will compute with a scenario's
// parameters instead of only matching its text. It knows the functions those expressions use and
// refuses any other one by name; semantics follow Microsoft's ARM template function reference
// (function names case-insensitive, if/coalesce evaluate lazily, fail() stops the deployment).
import { createHash } from "node:crypto";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type ArmValue = Json;

/** The parts of a template the expressions read. */
export interface TemplateLike {
  readonly parameters?: Readonly<Record<string, { readonly defaultValue?: Json }>>;
  readonly variables?: Readonly<Record<string, Json>>;
  readonly outputs?: Readonly<Record<string, { readonly value: Json }>>;
}

export interface EvalContext {
  readonly template: TemplateLike;
  readonly parameters: Readonly<Record<string, Json>>;
  /** For subscription(): the subscription deployed to. */
  readonly subscriptionId?: string;
  /** reference(resourceId, ...): the resource's (or deployment's) runtime state. */
  readonly reference?: (resourceId: string) => Json;
  /** environment(): the cloud deployed to (resourceManager, suffixes.storage, ...). */
  readonly environment?: Json;
}

/** What fail() raised: the message ARM would report for the deployment. */
export class DeploymentFailure extends Error {}

type Value = Json | Lambda | undefined;
interface Lambda {
  readonly lambda: true;
  readonly params: readonly string[];
  readonly body: Node;
}
type Node =
  | { kind: "literal"; value: Json }
  | { kind: "call"; name: string; args: Node[] }
  | { kind: "property"; target: Node; name: string }
  | { kind: "index"; target: Node; index: Node };

interface Scope {
  readonly ctx: EvalContext;
  readonly copyIndex: Readonly<Record<string, number>>;
  readonly lambdaVars: Readonly<Record<string, Value>>;
}

/** The value of a template variable (copy variables included) in the given context. */
export function evaluateVariable(ctx: EvalContext, name: string): Json {
  return variable({ ctx, copyIndex: {}, lambdaVars: {} }, name);
}

/** The value of any template JSON (a resource property, say) in the given context. */
export function evaluateValue(ctx: EvalContext, value: Json): Json {
  return evaluateJson({ ctx, copyIndex: {}, lambdaVars: {} }, value);
}

/** The value of a template output in the given context. */
export function evaluateOutput(ctx: EvalContext, name: string): Json {
  const output = ctx.template.outputs?.[name];
  if (!output) throw new Error(`no output ${name}`);
  return evaluateJson({ ctx, copyIndex: {}, lambdaVars: {} }, output.value);
}

function variable(scope: Scope, name: string): Json {
  const copies = (scope.ctx.template.variables?.["copy"] ?? []) as { name: string; count: Json; input: Json }[];
  const copy = copies.find((c) => c.name === name);
  if (copy) {
    const count = evaluateJson(scope, copy.count);
    if (typeof count !== "number") throw new Error(`copy count of ${name} is not a number`);
    return Array.from({ length: count }, (_, i) => evaluateJson({ ...scope, copyIndex: { ...scope.copyIndex, [name]: i, "": i } }, copy.input));
  }
  const vars = scope.ctx.template.variables ?? {};
  if (!(name in vars)) throw new Error(`no variable ${name}`);
  return evaluateJson(scope, vars[name]);
}

function evaluateJson(scope: Scope, value: Json | undefined): Json {
  if (value === undefined) return null;
  if (typeof value === "string") {
    if (value.startsWith("[[")) return value.slice(1);
    if (value.startsWith("[") && value.endsWith("]")) return asJson(evaluate(scope, parse(value.slice(1, -1))));
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => evaluateJson(scope, v));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluateJson(scope, v)]));
  return value;
}

function asJson(v: Value): Json {
  if (v === undefined) return null;
  if (isLambda(v)) throw new Error("a lambda is not a value");
  return v;
}

function isLambda(v: Value): v is Lambda {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { lambda?: unknown }).lambda === true;
}

// --- parser ----------------------------------------------------------------------------------

function parse(text: string): Node {
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const expect = (c: string) => {
    skip();
    if (text[i] !== c) throw new Error(`expected '${c}' at ${i} in ${text}`);
    i++;
  };
  const expression = (): Node => {
    skip();
    let node: Node;
    const c = text[i]!;
    if (c === "'") {
      let s = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated string in ${text}`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      node = { kind: "literal", value: s };
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+/.exec(text.slice(i))!;
      i += m[0].length;
      node = { kind: "literal", value: Number(m[0]) };
    } else {
      const m = /^[A-Za-z_][\w.]*/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected '${c}' at ${i} in ${text}`);
      i += m[0].length;
      expect("(");
      const args: Node[] = [];
      skip();
      if (text[i] === ")") i++;
      else {
        for (;;) {
          args.push(expression());
          skip();
          if (text[i] === ",") {
            i++;
            continue;
          }
          expect(")");
          break;
        }
      }
      node = { kind: "call", name: m[0], args };
    }
    for (;;) {
      skip();
      if (text[i] === ".") {
        i++;
        const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(i))!;
        i += m[0].length;
        node = { kind: "property", target: node, name: m[0] };
      } else if (text[i] === "[") {
        i++;
        const index = expression();
        expect("]");
        node = { kind: "index", target: node, index };
      } else return node;
    }
  };
  const node = expression();
  skip();
  if (i !== text.length) throw new Error(`trailing text at ${i} in ${text}`);
  return node;
}

// --- evaluation ------------------------------------------------------------------------------

function member(target: Value, key: Value): Value {
  if (Array.isArray(target) && typeof key === "number") return target[key];
  if (target !== null && typeof target === "object" && !Array.isArray(target) && typeof key === "string") {
    const found = Object.keys(target).find((k) => k.toLowerCase() === key.toLowerCase());
    return found === undefined ? undefined : (target as Record<string, Json>)[found];
  }
  return undefined;
}

function evaluate(scope: Scope, node: Node): Value {
  switch (node.kind) {
    case "literal":
      return node.value;
    case "property": {
      const target = evaluate(scope, node.target);
      const v = member(target, node.name);
      if (v === undefined) throw new DeploymentFailure(`The language expression property '${node.name}' doesn't exist.`);
      return v;
    }
    case "index": {
      const target = evaluate(scope, node.target);
      const key = evaluate(scope, node.index);
      const v = member(target, key);
      if (v === undefined) throw new DeploymentFailure(`The language expression property '${String(key)}' doesn't exist.`);
      return v;
    }
    case "call":
      return call(scope, node.name, node.args);
  }
}

function call(scope: Scope, name: string, args: Node[]): Value {
  const arg = (n: number) => evaluate(scope, args[n]!);
  const all = () => args.map((a) => evaluate(scope, a));
  const str = (n: number) => {
    const v = arg(n);
    if (typeof v !== "string") throw new Error(`${name}: argument ${n} is not a string`);
    return v;
  };
  const apply = (fn: Value, ...values: Value[]) => {
    if (!isLambda(fn)) throw new Error(`${name}: not a lambda`);
    const vars = Object.fromEntries(fn.params.map((p, i) => [p, values[i]]));
    return evaluate({ ...scope, lambdaVars: { ...scope.lambdaVars, ...vars } }, fn.body);
  };
  switch (name.toLowerCase()) {
    case "parameters": {
      const p = str(0);
      if (p in scope.ctx.parameters) return scope.ctx.parameters[p]!;
      const def = scope.ctx.template.parameters?.[p]?.defaultValue;
      if (def === undefined) throw new Error(`parameter ${p} has no value`);
      return evaluateJson(scope, def);
    }
    case "variables":
      return variable(scope, str(0));
    case "copyindex": {
      const key = args.length > 0 ? str(0) : "";
      const i = scope.copyIndex[key];
      if (i === undefined) throw new Error(`copyIndex(${key}) outside its copy loop`);
      return i;
    }
    case "if": {
      const c = arg(0);
      return c === true ? arg(1) : arg(2);
    }
    case "coalesce":
      for (let i = 0; i < args.length; i++) {
        const v = arg(i);
        if (v !== null && v !== undefined) return v;
      }
      return null;
    case "fail":
      throw new DeploymentFailure(str(0));
    case "not":
      return !arg(0);
    case "true":
      return true;
    case "false":
      return false;
    case "null":
      return null;
    case "empty": {
      const v = arg(0);
      if (v === null || v === undefined) return true;
      if (typeof v === "string" || Array.isArray(v)) return v.length === 0;
      return typeof v === "object" ? Object.keys(v).length === 0 : false;
    }
    case "contains": {
      const container = arg(0);
      const item = arg(1);
      if (Array.isArray(container)) return container.some((x) => JSON.stringify(x) === JSON.stringify(item));
      if (typeof container === "string") return container.includes(String(item));
      if (container !== null && typeof container === "object") return member(container, item) !== undefined;
      return false;
    }
    case "length": {
      const v = arg(0);
      if (typeof v === "string" || Array.isArray(v)) return v.length;
      if (v !== null && typeof v === "object") return Object.keys(v).length;
      throw new Error("length of a non-collection");
    }
    case "createobject": {
      const values = all();
      const out: Record<string, Json> = {};
      for (let i = 0; i < values.length; i += 2) out[String(values[i])] = asJson(values[i + 1]);
      return out;
    }
    case "createarray":
      return all().map(asJson);
    case "tryget": {
      let v: Value = arg(0);
      for (let i = 1; i < args.length; i++) v = v === null || v === undefined ? undefined : member(v, arg(i));
      return v ?? null;
    }
    case "format": {
      // `{{` and `}}` are literal braces, as in .NET's String.Format that ARM's format() follows.
      const values = all();
      return String(values[0]).replace(/\{\{|\}\}|\{(\d+)\}/g, (m, n: string | undefined) => {
        if (m === "{{") return "{";
        if (m === "}}") return "}";
        const v = asJson(values[Number(n) + 1]);
        return typeof v === "string" ? v : JSON.stringify(v);
      });
    }
    case "join": {
      const v = arg(0);
      if (!Array.isArray(v)) throw new Error("join of a non-array");
      return v.join(str(1));
    }
    case "endswith":
      return str(0).toLowerCase().endsWith(str(1).toLowerCase());
    case "take": {
      const v = arg(0);
      const n = arg(1);
      if ((typeof v !== "string" && !Array.isArray(v)) || typeof n !== "number") throw new Error("take(string|array, int)");
      return v.slice(0, Math.max(n, 0));
    }
    case "max":
      return Math.max(...all().map(Number));
    case "sub":
      return Number(arg(0)) - Number(arg(1));
    case "environment":
      if (scope.ctx.environment === undefined) throw new Error("environment() without an environment in the context");
      return scope.ctx.environment;
    case "tolower":
      return str(0).toLowerCase();
    case "objectkeys": {
      const v = arg(0);
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("objectKeys of a non-object");
      return Object.keys(v);
    }
    case "lambda": {
      const params = args.slice(0, -1).map((a) => {
        if (a.kind !== "literal" || typeof a.value !== "string") throw new Error("lambda parameter names are literals");
        return a.value;
      });
      return { lambda: true, params, body: args[args.length - 1]! };
    }
    case "lambdavariables": {
      const v = str(0);
      if (!(v in scope.lambdaVars)) throw new Error(`no lambda variable ${v}`);
      return scope.lambdaVars[v];
    }
    case "filter": {
      const v = arg(0);
      const fn = arg(1);
      if (!Array.isArray(v)) throw new Error("filter of a non-array");
      return v.filter((x) => apply(fn, x) === true);
    }
    case "map": {
      const v = arg(0);
      const fn = arg(1);
      if (!Array.isArray(v)) throw new Error("map of a non-array");
      return v.map((x) => asJson(apply(fn, x)));
    }
    case "uniquestring":
      // A stable stand-in of the same length and alphabet, not ARM's own hash: tests compare ids
      // built with it, never its value.
      return createHash("sha256").update(all().map(String).join("|")).digest("hex").replace(/[^a-z0-9]/g, "").slice(0, 13);
    case "subscription": {
      const sub = scope.ctx.subscriptionId;
      if (!sub) throw new Error("subscription() needs the subscription deployed to");
      return { subscriptionId: sub, id: `/subscriptions/${sub}` };
    }
    case "concat": {
      const values = all().map(asJson);
      return values.every(Array.isArray) ? (values as Json[][]).flat() : values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("");
    }
    case "guid": {
      // Deterministic like ARM's guid() (same inputs, same GUID), not bit-for-bit ARM's value.
      const h = createHash("sha1").update(args.map((_, i) => str(i)).join("-")).digest("hex");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
    }
    case "extensionresourceid":
      return `${str(0)}/providers/${str(1)}/${args.slice(2).map((_, i) => str(i + 2)).join("/")}`;
    case "reference": {
      const id = str(0);
      if (!scope.ctx.reference) throw new Error(`reference(${id}) without a reference resolver`);
      return scope.ctx.reference(id);
    }
    default:
      throw new Error(`ARM function ${name}() is not known to this evaluator`);
  }
}

/**
 * A template value outside a whole template (a role definition's properties, a condition string):
 * `[...]` strings are evaluated (`[[` escapes a literal `[`), arrays and objects member by member.
 */
export function evaluateArmValue(value: Json, ctx: { readonly parameters: Readonly<Record<string, Json>>; readonly variables?: Readonly<Record<string, Json>>; readonly subscriptionId?: string }): Json {
  return evaluateValue({ template: { ...(ctx.variables ? { variables: ctx.variables } : {}) }, parameters: ctx.parameters, ...(ctx.subscriptionId ? { subscriptionId: ctx.subscriptionId } : {}) }, value);
}
