import type { ArmRequest, HandlerContext } from "./context.js";
import { badRequest } from "./errors.js";

/**
 * With `limits.variablePageSizes`, a page holds 1…pageSize items, drawn from its offset (so the same
 * request gives the same page): Compute sizes its pages itself, and a client must follow nextLink
 * rather than count on a size.
 */
function pageSizeAt(ctx: HandlerContext, start: number): number {
  const size = Math.max(1, ctx.limits.pageSize);
  if (!ctx.limits.variablePageSizes) return size;
  const mixed = Math.imul(start + 1, 0x9e3779b1) >>> 0;
  return 1 + (mixed % size);
}

/**
 * One page of a list and the `nextLink` to the rest: the same URL with `$skiptoken`, absolute as ARM
 * sends it (both SDKs follow it verbatim).
 */
export function page<T>(ctx: HandlerContext, req: ArmRequest, items: readonly T[]): { value: T[]; nextLink?: string } {
  const token = req.query.get("$skiptoken") ?? req.query.get("$skipToken");
  const start = token === null ? 0 : Number(token);
  if (!Number.isInteger(start) || start < 0) throw badRequest("InvalidSkipToken", `The skip token '${token}' is not valid.`);
  const size = pageSizeAt(ctx, start);
  const value = items.slice(start, start + size);
  if (start + size >= items.length) return { value };
  const query = new URLSearchParams(req.query);
  query.delete("$skipToken");
  query.set("$skiptoken", String(start + size));
  return { value, nextLink: `${ctx.baseUrl}${req.path}?${query.toString()}` };
}
