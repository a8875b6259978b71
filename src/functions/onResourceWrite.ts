import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { handleResourceEvent } from "../orchestrator/handleEvent.js";

app.eventGrid("onResourceWrite", {
  handler: async (event, context) => {
    const outcome = await handleResourceEvent(event, await services());
    context.log(`event ${event.id}: ${outcome.handled}${"reason" in outcome ? ` (${outcome.reason})` : ""}${"result" in outcome ? ` → ${outcome.result.state}` : ""}`);
  },
});
