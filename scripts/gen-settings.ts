// Writes infra/app/settings.generated.json (loaded by infra/app/function.bicep with loadJsonContent)
// from the settings list the code reads. test/infra fails when the committed file is stale.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SETTINGS } from "../src/config/settings.js";
import { generatedSettingsJson } from "./app-settings.mjs";

const target = fileURLToPath(new URL("../infra/app/settings.generated.json", import.meta.url));
writeFileSync(target, generatedSettingsJson(SETTINGS));
console.log(`wrote ${target}`);
