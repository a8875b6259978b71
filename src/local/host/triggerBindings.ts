import type { RegisteredFunction } from "./functionApp.js";
import { resolveAppSettingReferences, type AppSettings } from "./appSettingReferences.js";
import { compileHttpRoute, type HttpRoute } from "./httpRoute.js";
import { parseTimerSchedule, type TimerSchedule } from "./timerSchedule.js";

export type TriggerBinding =
  | { readonly kind: "eventGrid"; readonly fn: RegisteredFunction }
  | { readonly kind: "timer"; readonly fn: RegisteredFunction; readonly schedule: TimerSchedule; readonly runOnStartup: boolean }
  | { readonly kind: "queue"; readonly fn: RegisteredFunction; readonly queueName: string; readonly connectionSetting: string; readonly connectionString: string }
  | { readonly kind: "http"; readonly fn: RegisteredFunction; readonly route: HttpRoute; readonly methods: readonly string[]; readonly authLevel: "anonymous" | "function" | "admin" }
  | { readonly kind: "unsupported"; readonly fn: RegisteredFunction };

/**
 * Reads a function's trigger metadata as the host does at startup: `%SETTING%` references are
 * resolved, the schedule parsed, the queue connection looked up (an app setting name, default
 * AzureWebJobsStorage). A binding that cannot be resolved is an error naming the function.
 */
export function bindTrigger(fn: RegisteredFunction, settings: AppSettings): TriggerBinding {
  const config = fn.trigger.config;
  const where = (property: string) => `Function "${fn.name}" (${fn.trigger.type}) binding property "${property}"`;
  const stringProperty = (property: string): string | undefined => {
    const value = config[property];
    return typeof value === "string" ? resolveAppSettingReferences(value, settings, where(property)) : undefined;
  };
  switch (fn.trigger.type.toLowerCase()) {
    case "eventgridtrigger":
      return { kind: "eventGrid", fn };
    case "timertrigger": {
      const expression = stringProperty("schedule");
      if (!expression) throw new Error(`${where("schedule")} is missing.`);
      let schedule: TimerSchedule;
      try {
        schedule = parseTimerSchedule(expression);
      } catch (error) {
        throw new Error(`${where("schedule")}: ${(error as Error).message}`);
      }
      return { kind: "timer", fn, schedule, runOnStartup: config["runOnStartup"] === true };
    }
    case "queuetrigger": {
      const queueName = stringProperty("queueName");
      if (!queueName) throw new Error(`${where("queueName")} is missing.`);
      const connectionSetting = stringProperty("connection") || "AzureWebJobsStorage";
      const connectionString = settings[connectionSetting] ?? settings[`AzureWebJobs${connectionSetting}`];
      if (!connectionString) {
        const identityBased = settings[`${connectionSetting}__queueServiceUri`] ?? settings[`${connectionSetting}__accountName`];
        throw new Error(
          identityBased
            ? `${where("connection")}: "${connectionSetting}" is an identity-based connection, which the local host does not support; set ${connectionSetting} to a connection string (Azurite's locally).`
            : `${where("connection")}: app setting "${connectionSetting}" is not set; set it to a storage connection string (Azurite's locally, e.g. UseDevelopmentStorage=true).`,
        );
      }
      return { kind: "queue", fn, queueName, connectionSetting, connectionString };
    }
    case "httptrigger": {
      const authLevel = String(config["authLevel"] ?? "anonymous").toLowerCase();
      if (authLevel !== "anonymous" && authLevel !== "function" && authLevel !== "admin") {
        throw new Error(`${where("authLevel")} must be anonymous, function or admin; got "${authLevel}".`);
      }
      const methods = Array.isArray(config["methods"]) ? config["methods"].map((m) => String(m).toUpperCase()) : [];
      return { kind: "http", fn, route: compileHttpRoute(stringProperty("route") ?? fn.name), methods, authLevel };
    }
    default:
      return { kind: "unsupported", fn };
  }
}
