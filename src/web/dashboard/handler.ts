import { randomBytes } from "node:crypto";
import { loadOverview, loadVm, type DashboardDeps } from "./model.js";
import { contentSecurityPolicy, errorPage, overviewPage, vmPage } from "./pages.js";

export interface HtmlResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * `GET /api/dashboard` (the overview) and `GET /api/dashboard?vm={id}` (one VM). A fresh nonce per
 * response is the only key to the page's style and script; the function key in `code` is carried
 * into links and never sent on as a referrer.
 */
export async function dashboardResponse(params: URLSearchParams, deps: DashboardDeps, nonce = randomBytes(18).toString("base64")): Promise<HtmlResponse> {
  const code = params.get("code") ?? undefined;
  const respond = (status: number, body: string): HtmlResponse => ({
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": contentSecurityPolicy(nonce),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    },
    body,
  });
  if (params.has("vm")) {
    const loaded = await loadVm(params, deps);
    return "error" in loaded ? respond(loaded.status, errorPage(loaded.status, loaded.error, nonce, code)) : respond(200, vmPage(loaded.model, nonce));
  }
  const loaded = await loadOverview(params, deps);
  return "error" in loaded ? respond(loaded.status, errorPage(loaded.status, loaded.error, nonce, code)) : respond(200, overviewPage(loaded.model, nonce));
}
