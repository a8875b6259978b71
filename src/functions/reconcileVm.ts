import { app } from "@azure/functions";
import { services } from "../app/services.js";
import { handlePoisonMessage, handleReconcileMessage } from "../orchestrator/handleQueue.js";

app.storageQueue("reconcileVm", {
  queueName: "%RECONCILE_QUEUE_NAME%",
  connection: "AzureWebJobsStorage",
  handler: async (message, context) => {
    const result = await handleReconcileMessage(message, await services());
    context.log(result ? `${result.vmId}: ${result.state}` : "malformed message recorded and dropped");
  },
});

// The host moves a message here after host.json's maxDequeueCount failed attempts. The poison
// message is a new message: its own dequeueCount (1) says nothing about the attempts that failed.
app.storageQueue("reconcileVmPoison", {
  queueName: "%RECONCILE_QUEUE_NAME%-poison",
  connection: "AzureWebJobsStorage",
  handler: async (message) => {
    await handlePoisonMessage(message, await services());
  },
});
