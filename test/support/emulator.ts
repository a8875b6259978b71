import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ComputeManagementClient } from "@azure/arm-compute";
import { startArmEmulator, type ArmEmulator, type ArmEmulatorOptions } from "../../src/local/emulator/index.js";

export const ARM_SCOPE = "https://management.azure.com/.default";

export interface TestEmulator {
  readonly emulator: ArmEmulator;
  /** A credential that acts as the principal (default: the emulator's managed identity). */
  credentialFor(principalId?: string): TokenCredential;
  computeClient(subscriptionId: string, principalId?: string): ComputeManagementClient;
  authorizationClient(subscriptionId: string, principalId?: string): AuthorizationManagementClient;
}

/** Fast settings for tests: short LROs, no Retry-After, small SDK retry delays. */
export async function startTestEmulator(options: ArmEmulatorOptions = {}): Promise<TestEmulator> {
  const emulator = await startArmEmulator({ lroDelayMs: 5, pageSize: 5, ...options });
  const credentialFor = (principalId: string = emulator.managedIdentity.principalId): TokenCredential => ({
    async getToken(): Promise<AccessToken> {
      return { token: emulator.tokenFor(principalId), expiresOnTimestamp: Date.now() + 3600_000 };
    },
  });
  const common = {
    endpoint: emulator.armUrl,
    tlsOptions: { ca: emulator.caPem },
    retryOptions: { retryDelayInMs: 5, maxRetryDelayInMs: 50 },
  };
  return {
    emulator,
    credentialFor,
    computeClient: (subscriptionId, principalId) =>
      new ComputeManagementClient(credentialFor(principalId), subscriptionId, { ...common, credentials: { scopes: [ARM_SCOPE] } }),
    authorizationClient: (subscriptionId, principalId) =>
      new AuthorizationManagementClient(credentialFor(principalId), subscriptionId, { ...common, credentialScopes: [ARM_SCOPE] }),
  };
}
