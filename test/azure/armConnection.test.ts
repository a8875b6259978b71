// The ARM token audience follows the cloud (ARM_AUDIENCE, set by the infra from
// environment().resourceManager): a public-cloud token is refused by Azure Government's or China's ARM.
import { loadAppSettings } from "../../src/app/settings.js";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import { ARM_SCOPE } from "../../src/azure/armConnection.js";
import { AzureArm } from "../../src/azure/azureArm.js";

/** The ARM settings under test, with a storage connection so the one loader has everything it needs. */
const withStorage = (settings: Record<string, string | undefined>) => ({ AzureWebJobsStorage: "UseDevelopmentStorage=true", ...settings });
import { vmTarget } from "../../src/domain/resourceId.js";

const VM = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

/** Records the scopes it is asked for, then refuses: no request ever leaves the process. */
function recordingCredential(): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  return {
    scopes,
    async getToken(requested: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
      scopes.push(...(Array.isArray(requested) ? requested : [requested]));
      throw new Error("test credential: no token");
    },
  };
}

describe("ARM_AUDIENCE", () => {
  it("defaults to public Azure's Resource Manager (what the local emulator accepts too)", () => {
    expect(loadAppSettings(withStorage({}), recordingCredential()).arm.scope).toBe(ARM_SCOPE);
  });

  it.each([
    ["Azure Government, as environment().resourceManager gives it", "https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net/.default"],
    ["Azure China", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"],
  ])("%s", (_label, audience, scope) => {
    expect(loadAppSettings(withStorage({ ARM_AUDIENCE: audience }), recordingCredential()).arm.scope).toBe(scope);
  });

  it.each(["management.usgovcloudapi.net", "http://management.azure.com", "https://management.azure.com/subscriptions"])("refuses %s, naming the setting", (audience) => {
    expect(() => loadAppSettings(withStorage({ ARM_AUDIENCE: audience }), recordingCredential()).arm).toThrow(/ARM_AUDIENCE must be the cloud's Resource Manager URL/);
  });

  it("is the scope both SDK clients ask the credential for", async () => {
    const credential = recordingCredential();
    const arm = new AzureArm(
      loadAppSettings(withStorage({ ARM_AUDIENCE: "https://management.usgovcloudapi.net/", ARM_ENDPOINT: "https://127.0.0.1:9", ARM_MAX_RETRIES: "0" }), credential).arm,
    );
    const vm = vmTarget(VM);
    await expect(arm.getVm(vm)).rejects.toThrow();
    await expect(arm.listVmAssignments(vm)).rejects.toThrow();
    expect(credential.scopes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(credential.scopes)).toEqual(new Set(["https://management.usgovcloudapi.net/.default"]));
  });
});
