import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { reconcileNowRequest } from "../orchestrator/httpApi.js";

app.http("reconcileNow", {
  methods: ["POST"],
  authLevel: "function",
  route: "reconcile",
  handler: async (request) => {
    const body = await request.json().catch(() => undefined);
    const response = await reconcileNowRequest(body, await services(), requester(request.headers));
    return { status: response.status, jsonBody: response.body, ...(response.headers ? { headers: response.headers } : {}) };
  },
});

/**
 * Who asked: the signed-in principal when App Service authentication fronts the app (it sets these
 * headers and strips any a client sends), else the function key's holder, with the client address.
 */
function requester(headers: Headers): string {
  const name = headers.get("x-ms-client-principal-name");
  const id = headers.get("x-ms-client-principal-id");
  if (name || id) return [name, id ? `(${id})` : ""].filter(Boolean).join(" ").slice(0, 200);
  const from = (headers.get("x-forwarded-for") ?? "").split(",")[0]?.trim();
  return `function key holder${from ? ` at ${from.slice(0, 64)}` : ""}`;
}
