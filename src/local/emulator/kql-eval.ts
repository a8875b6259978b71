import { KqlError, type Column, type Expr, type Query } from "./kql.js";

export type Row = Record<string, unknown>;

export interface KqlTable {
  /** The table's columns, in order (a query may only name these, and what it projects or extends). */
  readonly columns: readonly string[];
  readonly rows: readonly Row[];
}

export interface KqlResult {
  readonly columns: readonly string[];
  readonly rows: Row[];
  /** The query held a limit/take: Resource Graph then cannot page it. */
  readonly limited: boolean;
  /** The query sorted its rows itself. */
  readonly ordered: boolean;
}

/**
 * Runs a parsed query over the named tables. Semantics follow Kusto where the subset reaches:
 * dynamic member access is null-propagating; a string operator reads its operands as strings
 * (`tostring`: null is ""), so `properties.missing == ""` holds; `==`/`in` are case-sensitive,
 * `=~`/`in~`/`has`/`contains`/`startswith`/`endswith` are not (their `_cs` forms are);
 * `order by` is descending unless `asc`, nulls first when ascending and last when descending.
 */
export function runKql(query: Query, tables: Readonly<Record<string, KqlTable>>): KqlResult {
  const tableName = Object.keys(tables).find((t) => t.toLowerCase() === query.table.toLowerCase());
  const table = tableName === undefined ? undefined : tables[tableName];
  if (!table) {
    throw new KqlError(
      "InvalidQueryLanguage",
      `The table '${query.table}' is outside the local emulator's Resource Graph (tables: ${Object.keys(tables).join(", ")}).`,
      query.table,
      1,
      0,
    );
  }
  let columns = [...table.columns];
  let rows: Row[] = table.rows.map((r) => ({ ...r }));
  let limited = false;
  let ordered = false;
  for (const op of query.operators) {
    switch (op.kind) {
      case "where":
        check(op.predicate, columns);
        rows = rows.filter((row) => evaluate(op.predicate, row) === true);
        break;
      case "project":
      case "extend": {
        for (const c of op.columns) check(c.expr, columns);
        rows = rows.map((row) => applyColumns(row, op.columns, op.kind === "project"));
        const names = op.columns.map((c) => c.name);
        columns = op.kind === "project" ? unique(names) : unique([...columns, ...names]);
        break;
      }
      case "order": {
        for (const k of op.keys) check(k.expr, columns);
        const keyed = rows.map((row) => ({ row, keys: op.keys.map((k) => evaluate(k.expr, row)) }));
        keyed.sort((a, b) => {
          for (let i = 0; i < op.keys.length; i++) {
            const c = compareValues(a.keys[i], b.keys[i]);
            if (c !== 0) return op.keys[i]?.descending ? -c : c;
          }
          return 0;
        });
        rows = keyed.map((k) => k.row);
        ordered = true;
        break;
      }
      case "limit":
        rows = rows.slice(0, op.count);
        limited = true;
        break;
    }
  }
  return { columns, rows, limited, ordered };
}

const unique = (names: string[]): string[] => [...new Set(names)];

function applyColumns(row: Row, columns: readonly Column[], project: boolean): Row {
  const out: Row = project ? {} : { ...row };
  // Kusto evaluates every column of one operator against the input row.
  const values = columns.map((c) => evaluate(c.expr, row));
  columns.forEach((c, i) => {
    out[c.name] = values[i] ?? null;
  });
  return out;
}

/** Unknown column names are refused before any row is read, as Kusto's semantic check does. */
function check(expr: Expr, columns: readonly string[]): void {
  switch (expr.kind) {
    case "column":
      if (!columns.includes(expr.name)) {
        throw new KqlError(
          "SemanticError",
          `Failed to resolve scalar expression named '${expr.name}' (columns here: ${columns.join(", ")}).`,
          expr.name,
          expr.at.line,
          expr.at.col,
        );
      }
      return;
    case "member":
      return check(expr.target, columns);
    case "call":
      return expr.args.forEach((a) => check(a, columns));
    case "and":
    case "or":
    case "compare":
      check(expr.left, columns);
      return check(expr.right, columns);
    case "in":
      check(expr.left, columns);
      return expr.list.forEach((a) => check(a, columns));
    case "literal":
      return;
  }
}

/** Kusto's tostring: null (and a missing property) is "", objects and arrays are their JSON. */
export function toKqlString(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const isEmpty = (v: unknown): boolean => v === null || v === undefined || v === "";

function evaluate(expr: Expr, row: Row): unknown {
  switch (expr.kind) {
    case "literal":
      return expr.value;
    case "column":
      return row[expr.name] ?? null;
    case "member": {
      const target = evaluate(expr.target, row);
      if (typeof expr.key === "number") return Array.isArray(target) ? (target[expr.key] ?? null) : null;
      if (target === null || typeof target !== "object" || Array.isArray(target)) return null;
      return (target as Row)[expr.key] ?? null;
    }
    case "call": {
      const v = evaluate(expr.args[0] as Expr, row);
      switch (expr.fn) {
        case "tostring":
          return toKqlString(v);
        case "tolower":
          return toKqlString(v).toLowerCase();
        case "toupper":
          return toKqlString(v).toUpperCase();
        case "isempty":
          return isEmpty(v);
        case "isnotempty":
          return !isEmpty(v);
        case "isnull":
          return v === null || v === undefined;
        case "isnotnull":
          return !(v === null || v === undefined);
        case "not":
          return v === true ? false : v === false ? true : null;
      }
      return null;
    }
    case "and": {
      const l = evaluate(expr.left, row);
      if (l === false) return false;
      const r = evaluate(expr.right, row);
      return l === true && r === true ? true : r === false ? false : null;
    }
    case "or": {
      const l = evaluate(expr.left, row);
      if (l === true) return true;
      const r = evaluate(expr.right, row);
      return r === true ? true : l === false && r === false ? false : null;
    }
    case "in": {
      const left = evaluate(expr.left, row);
      const norm = (v: unknown): string => (expr.caseInsensitive ? toKqlString(v).toLowerCase() : toKqlString(v));
      const found = expr.list.some((item) => norm(left) === norm(evaluate(item, row)));
      return expr.negated ? !found : found;
    }
    case "compare":
      return compare(expr.op, evaluate(expr.left, row), evaluate(expr.right, row));
  }
}

function compare(op: string, left: unknown, right: unknown): boolean | null {
  const negated = op.startsWith("!") && op !== "!=" && op !== "!~";
  const base = negated ? op.slice(1) : op;
  const cs = base.endsWith("_cs");
  const name = cs ? base.slice(0, -3) : base;
  let result: boolean | null;
  switch (name) {
    case "==":
    case "!=": {
      const equal = typeof left === "number" && typeof right === "number" ? left === right : toKqlString(left) === toKqlString(right);
      result = name === "==" ? equal : !equal;
      break;
    }
    case "=~":
    case "!~": {
      const equal = toKqlString(left).toLowerCase() === toKqlString(right).toLowerCase();
      result = name === "=~" ? equal : !equal;
      break;
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (left === null || right === null) return null;
      const c = compareValues(left, right);
      result = name === "<" ? c < 0 : name === "<=" ? c <= 0 : name === ">" ? c > 0 : c >= 0;
      break;
    }
    default: {
      const hay = cs ? toKqlString(left) : toKqlString(left).toLowerCase();
      const needle = cs ? toKqlString(right) : toKqlString(right).toLowerCase();
      if (name === "contains") result = hay.includes(needle);
      else if (name === "startswith") result = hay.startsWith(needle);
      else if (name === "endswith") result = hay.endsWith(needle);
      else result = hasTerm(hay, needle);
    }
  }
  return negated ? !result : result;
}

const ALNUM = /[\p{L}\p{N}]/u;

/** Kusto's `has`: the needle occurs as a whole term (bounded by non-alphanumerics or the ends). */
function hasTerm(hay: string, needle: string): boolean {
  if (needle === "") return true;
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + 1)) {
    const before = hay[at - 1];
    const after = hay[at + needle.length];
    const startOk = before === undefined || !ALNUM.test(before) || !ALNUM.test(needle[0] ?? "");
    const endOk = after === undefined || !ALNUM.test(after) || !ALNUM.test(needle[needle.length - 1] ?? "");
    if (startOk && endOk) return true;
  }
  return false;
}

/** Ordering for `order by` and `<`: nulls lowest, numbers by value, everything else by ordinal string. */
export function compareValues(a: unknown, b: unknown): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const as = toKqlString(a);
  const bs = toKqlString(b);
  return as < bs ? -1 : as > bs ? 1 : 0;
}
