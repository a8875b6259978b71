import { badRequest } from "./errors.js";

/**
 * The api-versions each provider accepts. Compute: what @azure/arm-compute 24.1 sends (2026-03-01),
 * the reference examples (2025-04-01) and the versions in common use. Authorization: what
 * @azure/arm-authorization 9 sends (2022-04-01 for assignments/definitions, 2015-07-01 and 2020-10-01
 * for other groups), the preview version one official example carries, and the 2026-08-01 stable.
 */
export const SUPPORTED_API_VERSIONS = {
  "Microsoft.Compute": [
    "2026-03-01", "2025-11-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01",
    "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01", "2022-08-01",
  ],
  "Microsoft.Authorization": [
    "2026-08-01", "2022-04-01", "2020-10-01", "2020-10-01-preview", "2020-04-01-preview", "2018-01-01-preview", "2015-07-01",
  ],
  // Microsoft.Network: the version of the official examples the emulator renders (2024-05-01, what
  // the enforcer's preflight sends) and the stable versions before it.
  "Microsoft.Network": ["2024-05-01", "2024-03-01", "2024-01-01", "2023-11-01", "2023-09-01", "2023-06-01", "2023-05-01", "2023-04-01"],
  // Resource Graph's stable versions (azure-rest-api-specs, specification/resourcegraph).
  "Microsoft.ResourceGraph": ["2024-04-01", "2022-10-01", "2021-03-01"],
  "Microsoft.Resources": [
    "2025-04-01", "2025-03-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-09-01", "2021-04-01",
  ],
} as const;

export type ProviderNamespace = keyof typeof SUPPORTED_API_VERSIONS;

export function checkApiVersion(provider: ProviderNamespace, resourceType: string, apiVersion: string | null): string {
  if (apiVersion === null || apiVersion === "") {
    throw badRequest(
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  }
  const supported: readonly string[] = SUPPORTED_API_VERSIONS[provider];
  if (supported.includes(apiVersion.toLowerCase())) return apiVersion;
  const list = supported.join(",");
  if (provider === "Microsoft.Resources") {
    throw badRequest(
      "InvalidApiVersionParameter",
      `The api-version '${apiVersion}' is invalid. The supported versions are '${list}'.`,
    );
  }
  // Resource providers answer an unknown version with this code rather than InvalidApiVersionParameter.
  throw badRequest(
    "NoRegisteredProviderFound",
    `No registered resource provider found for location 'global' and API version '${apiVersion}' for type '${resourceType}'. ` +
      `The supported api-versions are '${list}'.`,
  );
}
