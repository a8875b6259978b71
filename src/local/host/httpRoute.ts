/**
 * An HTTP trigger's route template as ASP.NET routing reads it: literal segments, `{name}`,
 * optional `{name?}`, constrained `{name:int}` / `{name:alpha}` / `{name:guid}` (other
 * constraints are accepted but not checked), and a trailing catch-all `{*rest}`. Literals match
 * case-insensitively; the default route is the function name.
 */
export interface HttpRoute {
  readonly template: string;
  match(path: string): Record<string, string> | undefined;
}

interface Segment {
  readonly literal?: string;
  readonly param?: string;
  readonly optional?: boolean;
  readonly catchAll?: boolean;
  readonly constraint?: string;
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  alpha: /^[a-z]+$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
  bool: /^(true|false)$/i,
};

export function compileHttpRoute(template: string): HttpRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, "");
  const segments: Segment[] = trimmed === "" ? [] : trimmed.split("/").map(parseSegment);
  return {
    template: trimmed,
    match(path) {
      const parts = path.replace(/^\/+|\/+$/g, "").split("/").filter((p) => p !== "");
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i];
        if (!segment) break;
        const part = parts[i];
        if (segment.catchAll && segment.param) {
          if (parts.length > i) params[segment.param] = parts.slice(i).map(decodeURIComponent).join("/");
          return params;
        }
        if (part === undefined) {
          if (segment.optional) continue;
          return undefined;
        }
        if (segment.literal !== undefined) {
          if (decodeURIComponent(part).toLowerCase() !== segment.literal.toLowerCase()) return undefined;
          continue;
        }
        const value = decodeURIComponent(part);
        const pattern = segment.constraint ? CONSTRAINTS[segment.constraint.toLowerCase()] : undefined;
        if (pattern && !pattern.test(value)) return undefined;
        if (segment.param) params[segment.param] = value;
      }
      return parts.length <= segments.length ? params : undefined;
    },
  };
}

function parseSegment(text: string): Segment {
  const match = /^\{(\*)?([A-Za-z_][\w]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(text);
  if (!match) {
    if (text.includes("{") || text.includes("}")) throw new Error(`Route segment "${text}" is not supported by the local host.`);
    return { literal: text };
  }
  const [, star, param, constraint, optional] = match;
  return { param, catchAll: star === "*", constraint, optional: optional === "?" };
}
