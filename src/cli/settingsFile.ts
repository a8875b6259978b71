import { readFileSync } from "node:fs";

/**
 * Loads app settings from a `local.settings.json`-shaped file ({"Values": {...}}) into the
 * environment, without overriding variables already set (the environment wins, as in Azure).
 */
export function loadSettingsFile(path: string, env: NodeJS.ProcessEnv = process.env): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`Cannot read settings file "${path}": ${(error as Error).message}`);
  }
  const values = (parsed as { Values?: unknown }).Values;
  if (!values || typeof values !== "object") throw new Error(`Settings file "${path}" has no "Values" object (local.settings.json format).`);
  for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
    if (typeof value === "string" && env[name] === undefined) env[name] = value;
  }
}
