// Writes infra/app/enforcer-roles.generated.json from the COMPILED infra/app/enforcer-roles.bicep (the
// project's Bicep compiler in .tools), so the local stack grants the enforcer exactly what the infra
// grants it. test/infra fails when the committed file is stale.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ENFORCER_ROLES_FILE, ENFORCER_ROLES_SOURCE, enforcerRolesJson, type CompiledTemplate } from "../src/local/enforcerRoles.js";
import { INSTALL_HINT, ROOT, bicepPath } from "./tools.mjs";

const bicep = bicepPath();
if (!bicep) {
  console.error(`The Bicep compiler is not installed: ${INSTALL_HINT}`);
  process.exit(1);
}
const built = spawnSync(bicep, ["build", ENFORCER_ROLES_SOURCE, "--stdout"], { cwd: ROOT, encoding: "utf8" });
if (built.status !== 0) {
  console.error(`bicep build ${ENFORCER_ROLES_SOURCE} failed:\n${built.stderr}`);
  process.exit(1);
}
const target = fileURLToPath(ENFORCER_ROLES_FILE);
writeFileSync(target, enforcerRolesJson(JSON.parse(built.stdout) as CompiledTemplate));
console.log(`wrote ${target}`);
