/**
 * Azure ABAC role-assignment conditions (conditionVersion 2.0), the subset Azure documents for
 * constrained delegation of role assignment management ("Delegate Azure role assignment management to
 * others with conditions" and its examples page):
 *
 *   ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR
 *    (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {guid, guid}
 *     AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {guid}))
 *   AND
 *   ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR
 *    (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {guid}))
 *
 * A real (small) recursive-descent parser: NOT/`!` binds tightest, then AND/`&&`, then OR/`||`;
 * parentheses group. Attributes: `@Request[...]` and `@Resource[...]` of
 * `Microsoft.Authorization/roleAssignments:{RoleDefinitionId|PrincipalId|PrincipalType}` (the three
 * Azure documents for these conditions). Anything else is refused with the position and what was
 * expected: an emulator that silently ignored a clause would grant more than Azure does.
 */

export type AttributeSource = "Request" | "Resource";
export type RoleAssignmentAttribute = "RoleDefinitionId" | "PrincipalId" | "PrincipalType";

type Qualifier = "ForAnyOfAnyValues" | "ForAllOfAnyValues" | "ForAnyOfAllValues" | "ForAllOfAllValues";
type Operator =
  | "GuidEquals" | "GuidNotEquals"
  | "StringEquals" | "StringNotEquals" | "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase"
  | "StringStartsWith" | "StringNotStartsWith" | "StringLike" | "StringNotLike";

export type ConditionNode =
  | { readonly kind: "and" | "or"; readonly left: ConditionNode; readonly right: ConditionNode }
  | { readonly kind: "not"; readonly operand: ConditionNode }
  | { readonly kind: "action"; readonly patterns: readonly string[] }
  | {
      readonly kind: "compare";
      readonly source: AttributeSource;
      readonly attribute: RoleAssignmentAttribute;
      readonly qualifier?: Qualifier;
      readonly operator: Operator;
      readonly values: readonly string[];
    };

/** What a condition is evaluated against: the action asked for and the attributes of the request and the existing resource. */
export interface ConditionContext {
  readonly action: string;
  readonly request?: Partial<Record<RoleAssignmentAttribute, string>>;
  readonly resource?: Partial<Record<RoleAssignmentAttribute, string>>;
}

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

const QUALIFIERS: readonly Qualifier[] = ["ForAnyOfAnyValues", "ForAllOfAnyValues", "ForAnyOfAllValues", "ForAllOfAllValues"];
const OPERATORS: readonly Operator[] = [
  "GuidEquals", "GuidNotEquals", "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
  "StringStartsWith", "StringNotStartsWith", "StringLike", "StringNotLike",
];
const ATTRIBUTES: readonly RoleAssignmentAttribute[] = ["RoleDefinitionId", "PrincipalId", "PrincipalType"];
const ATTRIBUTE_PREFIX = "microsoft.authorization/roleassignments:";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Token =
  | { readonly type: "punct"; readonly value: "(" | ")" | "{" | "}" | "," | "!" | "&&" | "||"; readonly at: number }
  | { readonly type: "string"; readonly value: string; readonly at: number }
  | { readonly type: "attribute"; readonly source: string; readonly name: string; readonly at: number }
  | { readonly type: "word"; readonly value: string; readonly at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "&" || c === "|") {
      if (text[i + 1] !== c) throw new ConditionSyntaxError(`'${c}' must be doubled ('${c}${c}')`, i);
      tokens.push({ type: "punct", value: c === "&" ? "&&" : "||", at: i });
      i += 2;
    } else if ("(){},!".includes(c)) {
      tokens.push({ type: "punct", value: c as "(", at: i });
      i++;
    } else if (c === "'") {
      let value = "";
      let j = i + 1;
      for (; j < text.length && text[j] !== "'"; j++) {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        value += text[j];
      }
      if (j >= text.length) throw new ConditionSyntaxError("unterminated string (a quote ' is missing)", i);
      tokens.push({ type: "string", value, at: i });
      i = j + 1;
    } else if (c === "@") {
      const m = /^@(\w+)\[([^\]]*)\]/.exec(text.slice(i));
      if (!m) throw new ConditionSyntaxError("an attribute must look like @Request[namespace/type:name]", i);
      tokens.push({ type: "attribute", source: m[1] ?? "", name: m[2] ?? "", at: i });
      i += m[0].length;
    } else {
      const m = /^[\w.:\-/*]+/.exec(text.slice(i));
      if (!m) throw new ConditionSyntaxError(`unexpected character '${c}'`, i);
      tokens.push({ type: "word", value: m[0], at: i });
      i += m[0].length;
    }
  }
  return tokens;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  parse(): ConditionNode {
    if (this.tokens.length === 0) throw new ConditionSyntaxError("the condition is empty", 0);
    const node = this.or();
    const rest = this.peek();
    if (rest) throw new ConditionSyntaxError(`unexpected ${describe(rest)} after a complete expression (a missing AND/OR, or an extra ')')`, rest.at);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private next(what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new ConditionSyntaxError(`the condition ends where ${what} was expected`, this.length);
    return t;
  }

  private isWord(t: Token | undefined, ...words: string[]): boolean {
    return t?.type === "word" && words.some((w) => w.toLowerCase() === t.value.toLowerCase());
  }

  private isPunct(t: Token | undefined, value: string): boolean {
    return t?.type === "punct" && t.value === value;
  }

  private expectPunct(value: string, what: string): void {
    const t = this.next(`'${value}'`);
    if (!this.isPunct(t, value)) throw new ConditionSyntaxError(`expected '${value}' ${what}, found ${describe(t)}`, t.at);
  }

  private or(): ConditionNode {
    let left = this.and();
    while (this.isWord(this.peek(), "OR") || this.isPunct(this.peek(), "||")) {
      this.i++;
      left = { kind: "or", left, right: this.and() };
    }
    return left;
  }

  private and(): ConditionNode {
    let left = this.unary();
    while (this.isWord(this.peek(), "AND") || this.isPunct(this.peek(), "&&")) {
      this.i++;
      left = { kind: "and", left, right: this.unary() };
    }
    return left;
  }

  private unary(): ConditionNode {
    const t = this.peek();
    if (this.isPunct(t, "!") || this.isWord(t, "NOT")) {
      this.i++;
      return { kind: "not", operand: this.unary() };
    }
    return this.primary();
  }

  private primary(): ConditionNode {
    const t = this.next("an expression");
    if (this.isPunct(t, "(")) {
      const inner = this.or();
      this.expectPunct(")", "to close the '('");
      return inner;
    }
    if (this.isWord(t, "ActionMatches")) {
      const patterns = this.set("ActionMatches").map((v) => {
        if (v.quoted !== true) throw new ConditionSyntaxError(`ActionMatches takes quoted actions ('...'), found ${v.value}`, v.at);
        return v.value;
      });
      return { kind: "action", patterns };
    }
    if (t.type === "attribute") return this.comparison(t);
    if (this.isWord(t, "SubOperationMatches")) throw new ConditionSyntaxError("SubOperationMatches is not supported by the emulator (role-assignment conditions do not use it)", t.at);
    throw new ConditionSyntaxError(`expected '(', '!', ActionMatches{...} or an @Request/@Resource attribute, found ${describe(t)}`, t.at);
  }

  private comparison(t: Extract<Token, { type: "attribute" }>): ConditionNode {
    const source = (["Request", "Resource"] as const).find((s) => s.toLowerCase() === t.source.toLowerCase());
    if (!source) throw new ConditionSyntaxError(`attribute source @${t.source} is not supported (only @Request and @Resource apply to role assignments)`, t.at);
    const name = t.name.trim();
    const attribute = name.toLowerCase().startsWith(ATTRIBUTE_PREFIX)
      ? ATTRIBUTES.find((a) => a.toLowerCase() === name.slice(ATTRIBUTE_PREFIX.length).toLowerCase())
      : undefined;
    if (!attribute) {
      throw new ConditionSyntaxError(
        `attribute '${name}' is not supported; role-assignment conditions use Microsoft.Authorization/roleAssignments:${ATTRIBUTES.join("|")}`,
        t.at,
      );
    }
    const opToken = this.next("an operator");
    if (opToken.type !== "word") throw new ConditionSyntaxError(`expected an operator such as ForAnyOfAnyValues:GuidEquals, found ${describe(opToken)}`, opToken.at);
    const parts = opToken.value.split(":");
    const qualifierText = parts.length === 2 ? parts[0] : undefined;
    const operatorText = parts[parts.length - 1] ?? "";
    const qualifier = qualifierText === undefined ? undefined : QUALIFIERS.find((q) => q.toLowerCase() === qualifierText.toLowerCase());
    const operator = OPERATORS.find((o) => o.toLowerCase() === operatorText.toLowerCase());
    if (parts.length > 2 || (qualifierText !== undefined && !qualifier)) {
      throw new ConditionSyntaxError(`'${opToken.value}': the qualifier must be one of ${QUALIFIERS.join(", ")}`, opToken.at);
    }
    if (!operator) throw new ConditionSyntaxError(`'${operatorText}' is not a supported operator (${OPERATORS.join(", ")})`, opToken.at);
    const values = this.isPunct(this.peek(), "{") ? this.set(operator) : [this.value()];
    if (!qualifier && values.length !== 1) throw new ConditionSyntaxError(`${operator} without a ForAnyOf/ForAllOf qualifier compares with one value, not a set`, opToken.at);
    for (const v of values) {
      if (operator.startsWith("Guid") && !GUID.test(v.value)) throw new ConditionSyntaxError(`${operator} needs GUIDs, found '${v.value}'`, v.at);
      if (operator.startsWith("String") && v.quoted !== true) throw new ConditionSyntaxError(`${operator} needs quoted strings ('...'), found ${v.value}`, v.at);
    }
    return { kind: "compare", source, attribute, ...(qualifier ? { qualifier } : {}), operator, values: values.map((v) => v.value) };
  }

  private value(): { value: string; quoted: boolean; at: number } {
    const t = this.next("a value");
    if (t.type === "string") return { value: t.value, quoted: true, at: t.at };
    if (t.type === "word") return { value: t.value, quoted: false, at: t.at };
    throw new ConditionSyntaxError(`expected a value, found ${describe(t)}`, t.at);
  }

  private set(what: string): { value: string; quoted: boolean; at: number }[] {
    this.expectPunct("{", `after ${what}`);
    const values = [this.value()];
    while (this.isPunct(this.peek(), ",")) {
      this.i++;
      values.push(this.value());
    }
    this.expectPunct("}", `to close ${what}'s set of values`);
    return values;
  }
}

function describe(t: Token): string {
  switch (t.type) {
    case "punct":
      return `'${t.value}'`;
    case "string":
      return `the string '${t.value}'`;
    case "attribute":
      return `@${t.source}[${t.name}]`;
    default:
      return `'${t.value}'`;
  }
}

/** Parses a condition; throws ConditionSyntaxError with the position and what was expected. */
export function parseCondition(text: string): ConditionNode {
  return new Parser(tokenize(text), text.length).parse();
}

/** Action patterns match as Azure RBAC matches them: whole string, any case, `*` for any run of characters. */
export function actionPatternMatches(pattern: string, action: string): boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "i").test(action);
}

function likeMatches(pattern: string, value: string): boolean {
  const source = pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join(".*");
  return new RegExp(`^${source}$`, "s").test(value);
}

function compare(operator: Operator, actual: string, expected: string): boolean {
  switch (operator) {
    case "GuidEquals":
      return actual.toLowerCase() === expected.toLowerCase();
    case "GuidNotEquals":
      return actual.toLowerCase() !== expected.toLowerCase();
    case "StringEquals":
      return actual === expected;
    case "StringNotEquals":
      return actual !== expected;
    case "StringEqualsIgnoreCase":
      return actual.toLowerCase() === expected.toLowerCase();
    case "StringNotEqualsIgnoreCase":
      return actual.toLowerCase() !== expected.toLowerCase();
    case "StringStartsWith":
      return actual.startsWith(expected);
    case "StringNotStartsWith":
      return !actual.startsWith(expected);
    case "StringLike":
      return likeMatches(expected, actual);
    case "StringNotLike":
      return !likeMatches(expected, actual);
  }
}

/**
 * Evaluates a parsed condition. An attribute the context lacks has no values: `ForAny…` over it is
 * false, `ForAll…` vacuously true, and an unqualified comparison false.
 */
export function evaluateCondition(node: ConditionNode, context: ConditionContext): boolean {
  switch (node.kind) {
    case "and":
      return evaluateCondition(node.left, context) && evaluateCondition(node.right, context);
    case "or":
      return evaluateCondition(node.left, context) || evaluateCondition(node.right, context);
    case "not":
      return !evaluateCondition(node.operand, context);
    case "action":
      return node.patterns.some((p) => actionPatternMatches(p, context.action));
    case "compare": {
      const bag = node.source === "Request" ? context.request : context.resource;
      const value = bag?.[node.attribute];
      const actuals = value === undefined ? [] : [value];
      const test = (a: string, e: string) => compare(node.operator, a, e);
      switch (node.qualifier) {
        case undefined:
          return actuals.length === 1 && test(actuals[0] as string, node.values[0] as string);
        case "ForAnyOfAnyValues":
          return actuals.some((a) => node.values.some((e) => test(a, e)));
        case "ForAllOfAnyValues":
          return actuals.every((a) => node.values.some((e) => test(a, e)));
        case "ForAnyOfAllValues":
          return actuals.some((a) => node.values.every((e) => test(a, e)));
        case "ForAllOfAllValues":
          return actuals.every((a) => node.values.every((e) => test(a, e)));
      }
    }
  }
}
