import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { parseResourceEvent } from "../azure/resourceEvent.js";
import { boundedId, handleResourceEvent, recordMalformedEvent } from "../orchestrator/handleEvent.js";

// Answers within Event Grid's 30 s: parse, route, queue. The pass runs from the queue (reconcileVm).
app.eventGrid("onResourceWrite", {
  handler: async (raw, context) => {
    const s = await services();
    const event = await parseResourceEvent(raw).catch((error: Error) => error);
    if (event instanceof Error) return void (await recordMalformedEvent(raw, event.message, s));
    const outcome = await handleResourceEvent(event, s);
    context.log(`event ${boundedId(event.id)}: ${outcome.handled}${"reason" in outcome ? ` (${outcome.reason})` : ""}`);
  },
});
