/** ARM scopes: "/subscriptions/{sub}[/resourceGroups/{rg}[/providers/...]]", compared case-insensitively. */
export function normalizeScope(scope: string): string {
  const trimmed = `/${scope.replace(/^\/+/, "").replace(/\/+$/, "")}`;
  return trimmed === "/" ? "/" : trimmed;
}

export const scopeKey = (scope: string): string => normalizeScope(scope).toLowerCase();

/** True when `ancestor` is `scope` itself or one of its parents ("/" is everyone's parent). */
export function isAtOrAbove(ancestor: string, scope: string): boolean {
  const a = scopeKey(ancestor);
  const s = scopeKey(scope);
  return a === "/" || s === a || s.startsWith(`${a}/`);
}

export function subscriptionOf(scope: string): string | undefined {
  return /^\/subscriptions\/([^/]+)/i.exec(normalizeScope(scope))?.[1];
}
