import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { complianceQuery } from "../orchestrator/httpApi.js";

app.http("compliance", {
  methods: ["GET"],
  authLevel: "function",
  route: "compliance",
  handler: async (request) => {
    const response = await complianceQuery(request.query, await services());
    return { status: response.status, jsonBody: response.body, ...(response.headers ? { headers: response.headers } : {}) };
  },
});
