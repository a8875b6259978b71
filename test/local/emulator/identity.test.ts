import { ComputeManagementClient } from "@azure/arm-compute";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startArmEmulator, type ArmEmulator } from "../../../src/local/emulator/index.js";

const SUB = "d1d1d1d1-0000-4000-8000-0000000000d1";
let emulator: ArmEmulator;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  emulator = await startArmEmulator({ lroDelayMs: 0 });
  emulator.addResourceGroup(SUB, "rg1");
  emulator.addRoleAssignment({ principalId: emulator.managedIdentity.principalId, roleDefinitionId: "acdd72a7-3385-48ef-bd42-f606fba81ae7", scope: `/subscriptions/${SUB}` });
  for (const k of ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"]) saved[k] = process.env[k];
  delete process.env["AZURE_CLIENT_ID"];
  delete process.env["AZURE_TENANT_ID"];
  delete process.env["AZURE_CLIENT_SECRET"];
  delete process.env["AZURE_FEDERATED_TOKEN_FILE"];
  process.env["IDENTITY_ENDPOINT"] = emulator.identityEndpoint;
  process.env["IDENTITY_HEADER"] = emulator.identityHeader;
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await emulator.close();
});

describe("managed identity endpoint (App Service style)", () => {
  it("DefaultAzureCredential obtains a token the ARM emulator accepts, acting as the managed identity", async () => {
    const credential = new DefaultAzureCredential();
    const token = await credential.getToken("https://management.azure.com/.default");
    expect(token.token.split(".")).toHaveLength(3);
    const compute = new ComputeManagementClient(credential, SUB, { endpoint: emulator.armUrl, tlsOptions: { ca: emulator.caPem } });
    const vms = [];
    for await (const vm of compute.virtualMachines.list("rg1")) vms.push(vm);
    expect(vms).toEqual([]);
    expect(emulator.requests().requests.at(-1)).toMatchObject({ caller: emulator.managedIdentity.principalId, status: 200 });
  });

  it("ManagedIdentityCredential works too", async () => {
    const token = await new ManagedIdentityCredential().getToken("https://management.azure.com/.default");
    expect(JSON.parse(Buffer.from(token.token.split(".")[1] ?? "", "base64url").toString())).toMatchObject({ oid: emulator.managedIdentity.principalId, tid: emulator.tenantId });
  });

  it.each([
    ["no header", {}, 400],
    ["wrong header", { "X-IDENTITY-HEADER": "nope" }, 401],
  ])("%s -> %i", async (_case, headers, status) => {
    const res = await fetch(`${emulator.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`, { headers });
    expect(res.status).toBe(status);
  });

  it("answers the App Service token shape", async () => {
    const res = await fetch(`${emulator.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`, { headers: { "X-IDENTITY-HEADER": emulator.identityHeader } });
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(["access_token", "client_id", "expires_on", "resource", "token_type"]);
    expect(body["token_type"]).toBe("Bearer");
    expect(body["client_id"]).toBe(emulator.managedIdentity.clientId);
    expect(Number(body["expires_on"])).toBeGreaterThan(Date.now() / 1000);
  });
});
