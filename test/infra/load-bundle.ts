// Loads a deploy bundle the way the Functions worker does (our @azure/functions-core stand-in in
// place of the worker's) in a fresh process, and prints what it registered as one JSON line.
// Run by bundle.test.ts under Node 20 and Node 22:  node --import tsx test/infra/load-bundle.ts <bundle>
import { pathToFileURL } from "node:url";
import { loadFunctionApp } from "../../src/local/host/functionApp.js";

const bundlePath = process.argv[2];
if (!bundlePath) {
  console.error("usage: load-bundle.ts <path to main.mjs>");
  process.exit(2);
}
const started = performance.now();
const registry = await loadFunctionApp(pathToFileURL(bundlePath));
const loadMs = performance.now() - started;
console.log(
  JSON.stringify({
    node: process.version,
    loadMs,
    functions: registry.functions.map((f) => ({ name: f.name, trigger: f.trigger.type, config: f.trigger.config })),
  }),
);
