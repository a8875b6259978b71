import { createHash } from "node:crypto";

/**
 * Evaluates the ARM template expressions (`[format('…{0}…', parameters('x'))]`) that compiled Bicep
 * leaves in a template, for the few functions the enforcer's role template uses. The local stack uses
 * it to turn infra/app/enforcer-roles.generated.json into the exact condition Azure would receive for
 * a given allow-list. An unknown function is an error naming it, never a silent guess.
 */
export type ArmValue = string | number | boolean | null | ArmValue[] | { [key: string]: ArmValue };

export interface ArmEvaluationContext {
  readonly parameters: Readonly<Record<string, ArmValue>>;
  readonly variables?: Readonly<Record<string, ArmValue>>;
  /** For subscription(): the subscription deployed to. */
  readonly subscriptionId?: string;
}

type Node =
  | { readonly kind: "literal"; readonly value: ArmValue }
  | { readonly kind: "call"; readonly name: string; readonly args: readonly Node[] }
  | { readonly kind: "property"; readonly target: Node; readonly name: string };

function parse(text: string): Node {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`ARM expression '${text}': ${what} at character ${i}`);
  };
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const expr = (): Node => {
    skip();
    const c = text[i];
    if (c === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) fail("unterminated string");
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      return postfix({ kind: "literal", value });
    }
    const num = /^-?\d+/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return { kind: "literal", value: Number(num[0]) };
    }
    const ident = /^[A-Za-z_][\w]*/.exec(text.slice(i));
    if (!ident) return fail("expected a string, a number or a function call");
    i += ident[0].length;
    if (ident[0] === "true" || ident[0] === "false") return { kind: "literal", value: ident[0] === "true" };
    skip();
    if (text[i] !== "(") fail(`expected '(' after ${ident[0]}`);
    i++;
    const args: Node[] = [];
    skip();
    if (text[i] === ")") i++;
    else {
      for (;;) {
        args.push(expr());
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === ")") {
          i++;
          break;
        } else fail("expected ',' or ')'");
      }
    }
    return postfix({ kind: "call", name: ident[0], args });
  };
  const postfix = (node: Node): Node => {
    skip();
    while (text[i] === ".") {
      i++;
      const name = /^[A-Za-z_]\w*/.exec(text.slice(i));
      if (!name) fail("expected a property name after '.'");
      i += (name as RegExpExecArray)[0].length;
      node = { kind: "property", target: node, name: (name as RegExpExecArray)[0] };
      skip();
    }
    return node;
  };
  const node = expr();
  skip();
  if (i !== text.length) fail("unexpected text after the expression");
  return node;
}

/** .NET composite format, as ARM's format(): {0} placeholders, {{ and }} for braces. */
function format(template: string, args: ArmValue[]): string {
  return template.replace(/\{\{|\}\}|\{(\d+)\}/g, (m, index: string | undefined) => {
    if (m === "{{") return "{";
    if (m === "}}") return "}";
    const v = args[Number(index)];
    if (v === undefined) throw new Error(`format(): no argument {${index}} in '${template}'`);
    return typeof v === "string" ? v : JSON.stringify(v);
  });
}

function isEmpty(v: ArmValue): boolean {
  if (v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v).length === 0;
}

function evaluateNode(node: Node, ctx: ArmEvaluationContext): ArmValue {
  if (node.kind === "literal") return node.value;
  if (node.kind === "property") {
    const target = evaluateNode(node.target, ctx);
    if (target === null || typeof target !== "object" || Array.isArray(target) || !(node.name in target)) throw new Error(`ARM expression: no property '${node.name}'`);
    return target[node.name] as ArmValue;
  }
  const args = () => node.args.map((a) => evaluateNode(a, ctx));
  const str = (v: ArmValue | undefined, fn: string): string => {
    if (typeof v !== "string") throw new Error(`${fn}() expects a string, got ${JSON.stringify(v)}`);
    return v;
  };
  switch (node.name.toLowerCase()) {
    case "parameters": {
      const name = str(args()[0], "parameters");
      if (!(name in ctx.parameters)) throw new Error(`ARM expression: parameter '${name}' has no value`);
      return ctx.parameters[name] as ArmValue;
    }
    case "variables": {
      const name = str(args()[0], "variables");
      const raw = ctx.variables?.[name];
      if (raw === undefined) throw new Error(`ARM expression: no variable '${name}'`);
      return evaluateArmValue(raw, ctx);
    }
    case "format": {
      const [template, ...rest] = args();
      return format(str(template, "format"), rest);
    }
    case "join": {
      const [list, separator] = args();
      if (!Array.isArray(list)) throw new Error("join() expects an array");
      return list.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(str(separator, "join"));
    }
    case "if": {
      // Lazy, as ARM's: only the branch taken is evaluated.
      const condition = evaluateNode(node.args[0] as Node, ctx);
      return evaluateNode(node.args[condition === true ? 1 : 2] as Node, ctx);
    }
    case "empty":
      return isEmpty(args()[0] ?? null);
    case "concat": {
      const values = args();
      return values.every(Array.isArray) ? (values as ArmValue[][]).flat() : values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("");
    }
    case "createarray":
      return args();
    case "tolower":
      return str(args()[0], "toLower").toLowerCase();
    case "subscription": {
      if (!ctx.subscriptionId) throw new Error("ARM expression: subscription() needs the subscription deployed to");
      return { id: `/subscriptions/${ctx.subscriptionId}`, subscriptionId: ctx.subscriptionId };
    }
    case "guid": {
      // Deterministic like ARM's guid() (same inputs, same GUID), not bit-for-bit ARM's value.
      const h = createHash("sha1").update(args().map((a) => str(a, "guid")).join("-")).digest("hex");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
    }
    default:
      throw new Error(`ARM expression: function '${node.name}' is not supported by src/local/armExpression.ts; extend it if the infra needs it.`);
  }
}

/** A template value: a string `[...]` is an expression (`[[` escapes a literal `[`), arrays and objects are evaluated member by member. */
export function evaluateArmValue(value: ArmValue, ctx: ArmEvaluationContext): ArmValue {
  if (typeof value === "string") {
    if (value.startsWith("[[")) return value.slice(1);
    if (value.startsWith("[") && value.endsWith("]")) return evaluateNode(parse(value.slice(1, -1)), ctx);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => evaluateArmValue(v, ctx));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluateArmValue(v, ctx)]));
  return value;
}
