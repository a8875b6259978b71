import type { TokenCredential } from "@azure/core-auth";
import { readEnforcerConfig, type EnforcerConfig } from "../config/policy.js";
import { SettingsReader, type SettingsSource } from "../config/settings.js";
import { readArmConnection, type ArmConnection } from "../azure/armConnection.js";
import { readGraphConnection, type GraphConnection } from "../azure/graphDirectory.js";
import { storageConnectionFromSettings } from "../store/connection.js";
import { tablePrefixProblem, type StoreOptions } from "../store/tableStore.js";
import { queueNameProblem, type ReconcileQueueOptions } from "../store/reconcileQueue.js";

/** Every app setting the enforcer reads, checked. */
export interface AppSettings {
  readonly config: EnforcerConfig;
  readonly arm: ArmConnection;
  readonly graph: GraphConnection;
  readonly store: StoreOptions;
  readonly queue: ReconcileQueueOptions;
}

/**
 * The one settings loader: reads the policy, ARM and storage settings together and throws once,
 * listing every bad value (each naming the setting, the value and what is expected), so a
 * deployment is fixed in one go instead of one error per restart. Defaults come from SETTINGS only.
 */
export function loadAppSettings(source: SettingsSource = process.env, credential?: TokenCredential): AppSettings {
  const reader = new SettingsReader(source);
  const config = readEnforcerConfig(reader);
  const arm = readArmConnection(reader, credential);
  const graph = readGraphConnection(reader, arm);
  const none = { connectionString: "" };
  const table = reader.attempt(() => storageConnectionFromSettings(source, credential, "table", ""), none);
  // The same settings name both services: a missing connection is reported once, not twice.
  const queue = "connectionString" in table && table.connectionString === "" ? none : reader.attempt(() => storageConnectionFromSettings(source, credential, "queue", " for the reconcile queue"), none);
  const tablePrefix = reader.string("TABLE_PREFIX");
  const prefixProblem = tablePrefixProblem(tablePrefix);
  if (prefixProblem) reader.problem(prefixProblem);
  const queueName = reader.string("RECONCILE_QUEUE_NAME");
  const queueProblem = queueNameProblem(queueName);
  if (queueProblem) reader.problem(queueProblem);
  reader.finish();
  return {
    config,
    arm,
    graph,
    store: { ...("endpoint" in table ? { tableEndpoint: table.endpoint, credential: table.credential } : table), tablePrefix },
    queue: { ...("endpoint" in queue ? { queueEndpoint: queue.endpoint, credential: queue.credential } : queue), queueName },
  };
}
