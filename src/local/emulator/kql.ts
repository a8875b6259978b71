/**
 * The subset of KQL (Kusto Query Language) the emulator's Resource Graph runs, parsed into an AST:
 *
 *   Table ( '|' where Expr | project Col, ... | extend Col, ... | order by Expr [asc|desc], ...
 *          | sort by ... | limit N | take N )*
 *   Col  := Name '=' Expr | Path                (a bare path names its column after its segments joined by '_')
 *   Expr := or / and / not(...) / comparisons (== != =~ !~ < <= > >=, has, contains, startswith, endswith
 *           and their _cs and '!' forms, in, in~, !in, !in~) / functions (tolower, toupper, tostring,
 *           isempty, isnotempty, isnull, isnotnull, not) / literals / paths (a.b, a['b'], a[0])
 *
 * Anything else is refused with a KqlError that names the token and where it is (line, position), so the
 * endpoint can answer in Resource Graph's error shape. Operator names are case-sensitive, as in Kusto.
 */

export class KqlError extends Error {
  constructor(
    /** "ParserFailure" for malformed text, "InvalidQueryLanguage" for valid KQL outside the subset, "SemanticError" for unknown names. */
    readonly code: "ParserFailure" | "InvalidQueryLanguage" | "SemanticError",
    message: string,
    readonly token: string,
    readonly line: number,
    readonly characterPositionInLine: number,
  ) {
    super(message);
  }
}

export type Literal = string | number | boolean | null;

export type Expr =
  | { readonly kind: "literal"; readonly value: Literal }
  | { readonly kind: "column"; readonly name: string; readonly at: Token }
  | { readonly kind: "member"; readonly target: Expr; readonly key: string | number }
  | { readonly kind: "call"; readonly fn: ScalarFunction; readonly args: readonly Expr[] }
  | { readonly kind: "and" | "or"; readonly left: Expr; readonly right: Expr }
  | { readonly kind: "compare"; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: "in"; readonly negated: boolean; readonly caseInsensitive: boolean; readonly left: Expr; readonly list: readonly Expr[] };

export type CompareOp =
  | "==" | "!=" | "=~" | "!~" | "<" | "<=" | ">" | ">="
  | "has" | "!has" | "has_cs" | "!has_cs"
  | "contains" | "!contains" | "contains_cs" | "!contains_cs"
  | "startswith" | "!startswith" | "startswith_cs" | "!startswith_cs"
  | "endswith" | "!endswith" | "endswith_cs" | "!endswith_cs";

const WORD_OPS = new Set<string>(["has", "has_cs", "contains", "contains_cs", "startswith", "startswith_cs", "endswith", "endswith_cs"]);

export const SCALAR_FUNCTIONS = ["tolower", "toupper", "tostring", "isempty", "isnotempty", "isnull", "isnotnull", "not"] as const;
export type ScalarFunction = (typeof SCALAR_FUNCTIONS)[number];

export interface Column {
  readonly name: string;
  readonly expr: Expr;
}

export type Operator =
  | { readonly kind: "where"; readonly predicate: Expr }
  | { readonly kind: "project"; readonly columns: readonly Column[] }
  | { readonly kind: "extend"; readonly columns: readonly Column[] }
  | { readonly kind: "order"; readonly keys: ReadonlyArray<{ readonly expr: Expr; readonly descending: boolean }> }
  | { readonly kind: "limit"; readonly count: number };

export interface Query {
  readonly table: string;
  readonly operators: readonly Operator[];
}

/** Tabular operators of KQL that Resource Graph knows but this subset does not: refused by name. */
const KNOWN_UNSUPPORTED = new Set([
  "summarize", "join", "union", "mv-expand", "mvexpand", "parse", "distinct", "count", "top", "sample", "project-away",
  "project-rename", "project-keep", "project-reorder", "make-series", "lookup", "extend-away", "as", "let", "serialize",
]);

const TABULAR_OPERATORS = new Set(["where", "filter", "project", "extend", "order", "sort", "limit", "take"]);

interface Token {
  readonly type: "ident" | "string" | "number" | "op" | "eof";
  readonly text: string;
  /** The string's value for strings, the number's for numbers. */
  readonly value?: string | number;
  readonly line: number;
  readonly col: number;
}

const OPS = ["!in~", "in~", "==", "!=", "=~", "!~", "<=", ">=", "|", "(", ")", "[", "]", ",", ".", "=", "<", ">", "!"];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (message: string, token: string, at: number): never => {
    throw new KqlError("ParserFailure", message, token, line, at - lineStart);
  };
  while (i < text.length) {
    const c = text[i] ?? "";
    if (c === "\n") {
      line += 1;
      i += 1;
      lineStart = i;
      continue;
    }
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i += 1;
      continue;
    }
    const start = i;
    const col = i - lineStart;
    const verbatim = c === "@" && (text[i + 1] === "'" || text[i + 1] === '"');
    if (c === "'" || c === '"' || verbatim) {
      const quote = verbatim ? (text[i + 1] ?? "") : c;
      i += verbatim ? 2 : 1;
      let value = "";
      for (;;) {
        if (i >= text.length || text[i] === "\n") fail(`The string starting at line ${line}, position ${col} is not closed with ${quote}.`, text.slice(start, i), start);
        const ch = text[i] ?? "";
        if (ch === quote) {
          i += 1;
          break;
        }
        if (ch === "\\" && !verbatim) {
          const next = text[i + 1] ?? "";
          const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"' };
          const unescaped = escapes[next];
          if (unescaped === undefined) fail(`Unknown escape '\\${next}' in a string literal.`, `\\${next}`, i);
          value += unescaped;
          i += 2;
          continue;
        }
        value += ch;
        i += 1;
      }
      tokens.push({ type: "string", text: text.slice(start, i), value, line, col });
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < text.length && /[0-9.]/.test(text[i] ?? "")) i += 1;
      const raw = text.slice(start, i);
      const n = Number(raw);
      if (!Number.isFinite(n)) fail(`'${raw}' is not a number.`, raw, start);
      tokens.push({ type: "number", text: raw, value: n, line, col });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      // Kusto names may carry '-' inside operator names (mv-expand, project-away): read them whole.
      while (i < text.length && /[A-Za-z0-9_\-]/.test(text[i] ?? "")) {
        if (text[i] === "-" && !/[A-Za-z]/.test(text[i + 1] ?? "")) break;
        i += 1;
      }
      let word = text.slice(start, i);
      // A '-' joins only known operator names; `a-b` elsewhere is arithmetic, which the subset refuses later.
      if (word.includes("-") && !KNOWN_UNSUPPORTED.has(word)) {
        i = start + word.indexOf("-");
        word = text.slice(start, i);
      }
      if (word === "in" && text[i] === "~") {
        i += 1;
        word = "in~";
        tokens.push({ type: "op", text: word, line, col });
        continue;
      }
      tokens.push({ type: "ident", text: word, line, col });
      continue;
    }
    if (c === "!") {
      // !in, !in~, !has, !contains, ... : one operator token.
      const m = /^!(in~|in|has_cs|has|contains_cs|contains|startswith_cs|startswith|endswith_cs|endswith)(?![A-Za-z0-9_])/.exec(text.slice(i));
      if (m) {
        i += m[0].length;
        tokens.push({ type: "op", text: m[0], line, col });
        continue;
      }
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) fail(`Unexpected character '${c}' at line ${line}, position ${col}.`, c, start);
    i += (op as string).length;
    tokens.push({ type: "op", text: op as string, line, col });
  }
  tokens.push({ type: "eof", text: "<end of query>", line, col: i - lineStart });
  return tokens;
}

class Parser {
  private pos = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.type !== "eof") this.pos += 1;
    return t;
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.type === "op" && t.text === text;
  }

  private isWord(text: string): boolean {
    const t = this.peek();
    return t.type === "ident" && t.text === text;
  }

  private fail(message: string, t: Token = this.peek(), code: KqlError["code"] = "ParserFailure"): never {
    throw new KqlError(code, message, t.text, t.line, t.col);
  }

  private expectOp(text: string, what: string): Token {
    if (!this.isOp(text)) this.fail(`Expected '${text}' ${what}, found '${this.peek().text}' at line ${this.peek().line}, position ${this.peek().col}.`);
    return this.next();
  }

  query(): Query {
    const operators: Operator[] = [];
    let table = "Resources";
    // Resource Graph reads a query that starts with an operator as one on Resources (`where type =~ ...`).
    if (this.peek().type === "ident" && TABULAR_OPERATORS.has(this.peek().text) && !(this.peek(1).type === "op" && this.peek(1).text === "|") && this.peek(1).type !== "eof") {
      operators.push(this.operator());
    } else {
      const t = this.next();
      if (t.type !== "ident") this.fail(`A query starts with a table name (Resources or AuthorizationResources); found '${t.text}'.`, t);
      table = t.text;
    }
    while (this.isOp("|")) {
      this.next();
      operators.push(this.operator());
    }
    if (this.peek().type !== "eof") this.fail(`Unexpected '${this.peek().text}' at line ${this.peek().line}, position ${this.peek().col}: expected '|' or the end of the query.`);
    return { table, operators };
  }

  private operator(): Operator {
    const t = this.next();
    if (t.type !== "ident") this.fail(`Expected a tabular operator after '|', found '${t.text}'.`, t);
    switch (t.text) {
      case "where":
      case "filter":
        return { kind: "where", predicate: this.expr() };
      case "project":
      case "extend":
        return { kind: t.text, columns: this.columns(t.text) };
      case "order":
      case "sort": {
        if (!this.isWord("by")) this.fail(`'${t.text}' must be followed by 'by'.`);
        this.next();
        const keys: Array<{ expr: Expr; descending: boolean }> = [];
        do {
          if (keys.length > 0) this.next();
          const expr = this.expr();
          // Kusto sorts descending unless told otherwise.
          let descending = true;
          if (this.isWord("asc") || this.isWord("desc")) descending = this.next().text === "desc";
          if (this.isWord("nulls")) this.fail("'nulls first|last' is outside the emulator's KQL subset.", this.peek(), "InvalidQueryLanguage");
          keys.push({ expr, descending });
        } while (this.isOp(","));
        return { kind: "order", keys };
      }
      case "limit":
      case "take": {
        const n = this.next();
        if (n.type !== "number" || !Number.isInteger(n.value) || (n.value as number) < 0) this.fail(`'${t.text}' needs a whole number of rows, found '${n.text}'.`, n);
        return { kind: "limit", count: n.value as number };
      }
      default:
        if (KNOWN_UNSUPPORTED.has(t.text)) {
          this.fail(
            `The operator '${t.text}' is outside the local emulator's KQL subset (supported: where, project, extend, order by, sort by, limit, take).`,
            t,
            "InvalidQueryLanguage",
          );
        }
        this.fail(`'${t.text}' is not a tabular operator the emulator knows (supported: where, project, extend, order by, sort by, limit, take).`, t);
    }
  }

  private columns(op: string): Column[] {
    const columns: Column[] = [];
    do {
      if (columns.length > 0) this.next();
      const start = this.peek();
      if (start.type === "ident" && this.peek(1).type === "op" && this.peek(1).text === "=") {
        this.next();
        this.next();
        columns.push({ name: start.text, expr: this.expr() });
        continue;
      }
      const expr = this.expr();
      const name = pathName(expr);
      if (name === undefined) this.fail(`'${op}' needs a name for a computed column: write 'name = ${start.text}...'.`, start);
      columns.push({ name, expr });
    } while (this.isOp(","));
    return columns;
  }

  expr(): Expr {
    let left = this.and();
    while (this.isWord("or")) {
      this.next();
      left = { kind: "or", left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.comparison();
    while (this.isWord("and")) {
      this.next();
      left = { kind: "and", left, right: this.comparison() };
    }
    return left;
  }

  private comparison(): Expr {
    const left = this.primary();
    const t = this.peek();
    if (t.type === "op" && ["==", "!=", "=~", "!~", "<", "<=", ">", ">="].includes(t.text)) {
      this.next();
      return { kind: "compare", op: t.text as CompareOp, left, right: this.primary() };
    }
    if (t.type === "op" && t.text.startsWith("!") && WORD_OPS.has(t.text.slice(1))) {
      this.next();
      return { kind: "compare", op: t.text as CompareOp, left, right: this.primary() };
    }
    if (t.type === "ident" && WORD_OPS.has(t.text)) {
      this.next();
      return { kind: "compare", op: t.text as CompareOp, left, right: this.primary() };
    }
    if ((t.type === "ident" && t.text === "in") || (t.type === "op" && ["in~", "!in", "!in~"].includes(t.text))) {
      this.next();
      this.expectOp("(", `after '${t.text}'`);
      const list: Expr[] = [];
      if (!this.isOp(")")) {
        do {
          if (list.length > 0) this.next();
          const item = this.primary();
          if (item.kind !== "literal") this.fail(`The list of '${t.text}' holds literals only in the emulator's KQL subset.`, t, "InvalidQueryLanguage");
          list.push(item);
        } while (this.isOp(","));
      }
      this.expectOp(")", `to close the list of '${t.text}'`);
      return { kind: "in", negated: t.text.startsWith("!"), caseInsensitive: t.text.endsWith("~"), left, list };
    }
    if (t.type === "ident" && ["matches", "between", "has_any", "has_all", "contains_any"].includes(t.text)) {
      this.fail(`The operator '${t.text}' is outside the local emulator's KQL subset.`, t, "InvalidQueryLanguage");
    }
    return left;
  }

  private primary(): Expr {
    const t = this.next();
    let expr: Expr;
    if (t.type === "string") expr = { kind: "literal", value: t.value as string };
    else if (t.type === "number") expr = { kind: "literal", value: t.value as number };
    else if (t.type === "op" && t.text === "(") {
      expr = this.expr();
      this.expectOp(")", "to close '('");
    } else if (t.type === "ident") {
      if (t.text === "true" || t.text === "false") return { kind: "literal", value: t.text === "true" };
      if (this.isOp("(")) {
        if (!(SCALAR_FUNCTIONS as readonly string[]).includes(t.text)) {
          this.fail(`The function '${t.text}()' is outside the local emulator's KQL subset (supported: ${SCALAR_FUNCTIONS.join(", ")}).`, t, "InvalidQueryLanguage");
        }
        this.next();
        const args: Expr[] = [];
        if (!this.isOp(")")) {
          do {
            if (args.length > 0) this.next();
            args.push(this.expr());
          } while (this.isOp(","));
        }
        this.expectOp(")", `to close '${t.text}('`);
        if (args.length !== 1) this.fail(`'${t.text}()' takes exactly one argument, got ${args.length}.`, t, "SemanticError");
        expr = { kind: "call", fn: t.text as ScalarFunction, args };
      } else {
        expr = { kind: "column", name: t.text, at: t };
      }
    } else {
      this.fail(`Expected a value, a column or '(' at line ${t.line}, position ${t.col}, found '${t.text}'.`, t);
    }
    for (;;) {
      if (this.isOp(".")) {
        this.next();
        const key = this.next();
        if (key.type !== "ident") this.fail(`Expected a property name after '.', found '${key.text}'.`, key);
        expr = { kind: "member", target: expr, key: key.text };
      } else if (this.isOp("[")) {
        this.next();
        const key = this.next();
        if (key.type !== "string" && !(key.type === "number" && Number.isInteger(key.value))) {
          this.fail(`Expected a quoted property name or an array index inside '[ ]', found '${key.text}'.`, key);
        }
        this.expectOp("]", "to close '['");
        expr = { kind: "member", target: expr, key: key.value as string | number };
      } else {
        return expr;
      }
    }
  }
}

/** Kusto's name for a projected path: its segments joined by '_' (`properties.vmId` → `properties_vmId`). */
function pathName(expr: Expr): string | undefined {
  if (expr.kind === "column") return expr.name;
  if (expr.kind === "member") {
    const base = pathName(expr.target);
    return base === undefined ? undefined : `${base}_${String(expr.key)}`;
  }
  return undefined;
}

export function parseKql(text: string): Query {
  return new Parser(tokenize(text)).query();
}
