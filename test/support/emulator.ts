import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ComputeManagementClient } from "@azure/arm-compute";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { ARM_SCOPE } from "../../src/azure/armConnection.js";
import { startArmEmulator, type ArmEmulator, type ArmEmulatorOptions } from "../../src/local/emulator/index.js";

export { ARM_SCOPE };

export const OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

/**
 * The emulator enforces RBAC and a principal holds no role until granted: the tests that exercise
 * ARM behaviours other than authorization act as a tenant-wide Owner (an assignment at "/", made by
 * the tenant admin through the emulator's admin grant).
 */
export function grantOwnerAtRoot(emulator: ArmEmulator, principalId: string = emulator.managedIdentity.principalId): void {
  emulator.addRoleAssignment({ principalId, roleDefinitionId: OWNER_ROLE, scope: "/" });
}

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
  grantOwnerAtRoot(emulator);
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

/**
 * The usual lifecycle for a test file: one emulator for the file, reset before each test (the managed
 * identity granted Owner at "/" again) and then handed to `setup` (limits, resource groups,
 * principals), closed after the last test.
 */
export function useTestEmulator(setup: (t: TestEmulator) => void | Promise<void>, options: ArmEmulatorOptions = {}): void {
  let started: TestEmulator | undefined;
  beforeAll(async () => {
    started = await startTestEmulator(options);
  });
  afterAll(async () => {
    await started?.emulator.close();
  });
  beforeEach(async () => {
    if (!started) throw new Error("The test emulator did not start (see beforeAll's error).");
    started.emulator.reset();
    grantOwnerAtRoot(started.emulator);
    await setup(started);
  });
}
