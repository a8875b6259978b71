import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { reconcileNowRequest } from "../orchestrator/httpApi.js";

app.http("reconcileNow", {
  methods: ["POST"],
  authLevel: "function",
  route: "reconcile",
  handler: async (request) => {
    const body = await request.json().catch(() => undefined);
    const response = await reconcileNowRequest(body, await services());
    return { status: response.status, jsonBody: response.body, ...(response.headers ? { headers: response.headers } : {}) };
  },
});
