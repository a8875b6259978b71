export { loadFunctionApp } from "./functionApp.js";
export type { FunctionAppRegistry, FunctionTriggerInfo, InvocationResult, InvokeExtras, RegisteredFunction } from "./functionApp.js";
export { startLocalHost } from "./localHost.js";
export type { DrainQueuesOptions, LocalHost, StartLocalHostOptions } from "./localHost.js";
export type { FunctionStats, HostStats } from "./invocationTracker.js";
export { parseHostJson, readHostJson } from "./hostJson.js";
export type { HostJsonOptions } from "./hostJson.js";
