import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { runDriftAudit } from "../orchestrator/driftAudit.js";

app.timer("driftAudit", {
  schedule: "%AUDIT_SCHEDULE%",
  handler: async (_timer, context) => {
    const s = await services();
    const run = await runDriftAudit(s, { subscriptions: s.config.watchedSubscriptions, trigger: "timer" });
    context.log(`drift audit ${run.runId}: ${run.vmCount} VMs, ${run.enqueued} enqueued, ${run.armCalls} ARM calls`);
  },
});
