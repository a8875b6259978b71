import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { dashboardResponse } from "../web/dashboard/handler.js";

app.http("dashboard", {
  methods: ["GET"],
  authLevel: "function",
  route: "dashboard",
  handler: async (request) => dashboardResponse(request.query, await services()),
});
