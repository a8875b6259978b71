import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { parseReconcileRequest } from "../store/reconcileRequest.js";
import { handlePoisonMessage, handleReconcileRequest, recordMalformedMessage } from "../orchestrator/handleQueue.js";

app.storageQueue("reconcileVm", {
  queueName: "%RECONCILE_QUEUE_NAME%",
  connection: "AzureWebJobsStorage",
  handler: async (message, context) => {
    const s = await services();
    let request;
    try {
      request = parseReconcileRequest(message);
    } catch (error) {
      return void (await recordMalformedMessage(message, (error as Error).message, s));
    }
    const outcome = await handleReconcileRequest(request, s);
    context.log(outcome.ran ? `${outcome.result.vmId}: ${outcome.result.state}` : `${request.vmId}: leased by another pass, re-queued`);
  },
});

// The host moves a message here after host.json's maxDequeueCount failed attempts. The poison
// message is a new message: its own dequeueCount (1) says nothing about the attempts that failed.
app.storageQueue("reconcileVmPoison", {
  queueName: "%RECONCILE_QUEUE_NAME%-poison",
  connection: "AzureWebJobsStorage",
  handler: async (message) => {
    let request;
    try {
      request = parseReconcileRequest(message);
    } catch {
      request = undefined;
    }
    await handlePoisonMessage(request, message, await services());
  },
});
