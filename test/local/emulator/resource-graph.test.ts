import type { ComputeManagementClient, VirtualMachine } from "@azure/arm-compute";
import { ASSIGNMENT_QUERY, extensionQuery, VM_QUERY } from "../../../src/azure/graphSnapshot.js";
import { describe, expect, it } from "vitest";
import { useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall, type RawResponse } from "./arm-http.js";

const SUB = "a1a1a1a1-0000-4000-8000-0000000000a1";
const SUB2 = "b2b2b2b2-0000-4000-8000-0000000000b2";
const RG = "RG-Graph";
const ALICE = "a11ce000-0000-4000-8000-000000000001";
const BOB = "b0b00000-0000-4000-8000-000000000002";
const ADMIN_LOGIN = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const USER_LOGIN = "fb879df8-f326-4884-b1cf-06f3ad86be52";
const FAST = { updateIntervalInMs: 2 };
const ARG_PATH = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";

const vmId = (name: string, sub = SUB, rg = RG): string => `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const image = (sku: string, publisher = "MicrosoftWindowsServer", offer = "WindowsServer"): VirtualMachine =>
  ({
    location: "westeurope",
    hardwareProfile: { vmSize: "Standard_D2s_v3" },
    storageProfile: { imageReference: { publisher, offer, sku, version: "latest" } },
    osProfile: { computerName: "host", adminUsername: "azureuser", adminPassword: "Secr3t!Secr3t!" },
  }) as VirtualMachine;

/** The same VM as ARM JSON, for the admin API's seed. */
const armBody = (vm: VirtualMachine, extra: Record<string, unknown> = {}): never => {
  const { location, ...properties } = vm;
  return { location, properties, ...extra } as never;
};

let t: TestEmulator;
let compute: ComputeManagementClient;

useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ lroDelayMs: 2 });
  t.emulator.addPrincipal({ id: ALICE, type: "User", displayName: "Alice" });
  t.emulator.addPrincipal({ id: BOB, type: "User", displayName: "Bob" });
  t.emulator.seed({
    vms: [
      { id: vmId("vm-a"), body: armBody(image("2019-Datacenter"), { tags: { "aadlogin-admins": "alice@contoso.com", env: "prod" }, identity: { type: "SystemAssigned" } }) },
      { id: vmId("vm-b"), body: armBody(image("2022-datacenter-azure-edition"), { tags: { env: "Test" } }), simulation: { powerState: "deallocated" } },
      { id: vmId("vm-c", SUB2, "rg-other"), body: armBody(image("22_04-lts", "Canonical", "0001-com-ubuntu-server-jammy")) },
    ],
  });
  compute = t.computeClient(SUB);
});

const query = (body: unknown, principal = t.emulator.managedIdentity.principalId): Promise<RawResponse> =>
  armCall(t.emulator.armUrl, t.emulator.caPem, "POST", ARG_PATH, { token: t.emulator.tokenFor(principal), body });

async function rows(text: string, extra: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
  const res = await query({ query: text, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Array<Record<string, unknown>>;
}

async function refused(text: string): Promise<{ code: string; message: string; token?: string; line?: number; characterPositionInLine?: number }> {
  const res = await query({ query: text });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe("BadRequest");
  expect(res.body.error.message).toMatch(/^Please provide below info when asking for support: timestamp = .*, correlationId = .*\.$/);
  expect(res.body.error.details[0]).toEqual({ code: "InvalidQuery", message: expect.stringMatching(/^Query is invalid\./) });
  return res.body.error.details[1];
}

describe("Resource Graph rows", () => {
  it("VM rows carry ARG's columns, lower-case type and the instance view under properties.extended", async () => {
    const all = await rows("Resources | where type =~ 'Microsoft.Compute/virtualMachines' | order by name asc");
    expect(all.map((r) => r["name"])).toEqual(["vm-a", "vm-b", "vm-c"]);
    const a = all[0] as Record<string, any>;
    expect(Object.keys(a).sort()).toEqual(
      ["extendedLocation", "id", "identity", "kind", "location", "managedBy", "name", "plan", "properties", "resourceGroup", "sku", "subscriptionId", "tags", "tenantId", "type", "zones"].sort(),
    );
    expect(a).toMatchObject({ id: vmId("vm-a"), type: "microsoft.compute/virtualmachines", resourceGroup: "rg-graph", subscriptionId: SUB, tenantId: t.emulator.tenantId, location: "westeurope" });
    expect(a["properties"].extended.instanceView).toMatchObject({ computerName: "host", osName: "Windows Server 2019 Datacenter", osVersion: "10.0.17763.6532", powerState: { code: "PowerState/running" } });
    expect(a["properties"].osProfile.adminPassword).toBeUndefined();
    // A deallocated VM reports no guest data, as its instance view does.
    expect((all[1] as Record<string, any>)["properties"].extended.instanceView).toMatchObject({ powerState: { code: "PowerState/deallocated" } });
    expect((all[1] as Record<string, any>)["properties"].extended.instanceView.osName).toBeUndefined();
  });

  it("projects and extends property paths with dot and bracket notation, null-propagating", async () => {
    const got = await rows(
      "Resources | where type == 'microsoft.compute/virtualmachines' " +
        "| extend power = properties.extended.instanceView.powerState.code, admins = tags['aadlogin-admins'], env = tags[\"env\"] " +
        "| project id, name, power, admins, env, nothing = properties.no.such.path, properties.vmId | order by name asc",
    );
    expect(got.map((r) => [r["name"], r["power"], r["admins"], r["env"], r["nothing"]])).toEqual([
      ["vm-a", "PowerState/running", "alice@contoso.com", "prod", null],
      ["vm-b", "PowerState/deallocated", null, "Test", null],
      ["vm-c", "PowerState/running", null, null, null],
    ]);
    expect(Object.keys(got[0] ?? {})).toEqual(["id", "name", "power", "admins", "env", "nothing", "properties_vmId"]);
    expect(typeof got[0]?.["properties_vmId"]).toBe("string");
  });

  it("extension rows and role assignments (AuthorizationResources) follow ARM writes", async () => {
    await compute.virtualMachineExtensions.createOrUpdate(RG, "vm-a", "AADLoginForWindows", { location: "westeurope", publisher: "Microsoft.Azure.ActiveDirectory", typePropertiesType: "AADLoginForWindows", typeHandlerVersion: "1.0" }, FAST);
    const auth = t.authorizationClient(SUB);
    await auth.roleAssignments.create(vmId("vm-a"), "0a0a0a0a-0000-4000-8000-00000000000a", { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}`, principalId: ALICE, description: "aadlogin-enforcer" });
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, "0b0b0b0b-0000-4000-8000-00000000000b", { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`, principalId: BOB });

    const ext = await rows(
      "Resources | where type == 'microsoft.compute/virtualmachines/extensions' and properties.type =~ 'aadloginforwindows' " +
        "| project id, name, publisher = tostring(properties.publisher), state = properties.provisioningState, view = properties.instanceView",
    );
    expect(ext).toEqual([{ id: `${vmId("vm-a")}/extensions/AADLoginForWindows`, name: "AADLoginForWindows", publisher: "Microsoft.Azure.ActiveDirectory", state: "Succeeded", view: null }]);

    const ra = await rows(
      "AuthorizationResources | where type =~ 'microsoft.authorization/roleassignments' " +
        `| where properties.roleDefinitionId endswith '${ADMIN_LOGIN}' or tolower(properties.roleDefinitionId) contains '${USER_LOGIN}' ` +
        "| project id, principalId = tostring(properties.principalId), scope = tostring(properties.scope), description = properties.description, roleDefinitionId = properties.roleDefinitionId | order by principalId asc",
    );
    expect(ra).toEqual([
      {
        id: `${vmId("vm-a")}/providers/Microsoft.Authorization/roleAssignments/0a0a0a0a-0000-4000-8000-00000000000a`,
        principalId: ALICE,
        scope: vmId("vm-a"),
        description: "aadlogin-enforcer",
        roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}`,
      },
      expect.objectContaining({ principalId: BOB, scope: `/subscriptions/${SUB}`, description: null }),
    ]);

    await auth.roleAssignments.delete(vmId("vm-a"), "0a0a0a0a-0000-4000-8000-00000000000a");
    await compute.virtualMachineExtensions.beginDeleteAndWait(RG, "vm-a", "AADLoginForWindows", FAST);
    expect(await rows("AuthorizationResources | project id, p = properties.principalId")).toEqual([expect.objectContaining({ p: BOB })]);
    expect(await rows("Resources | where type endswith '/extensions' | project id")).toEqual([]);
  });
});

describe("the audit's queries, exactly as src/azure/graphSnapshot.ts sends them", () => {
  const EXTENSION_QUERY = extensionQuery(["AADLoginForWindows"]);

  it("answers all three with the fields the snapshot reads", async () => {
    await compute.virtualMachineExtensions.createOrUpdate(RG, "vm-a", "AADLoginForWindows", { location: "westeurope", publisher: "Microsoft.Azure.ActiveDirectory", typePropertiesType: "AADLoginForWindows", typeHandlerVersion: "2.0" }, FAST);
    const auth = t.authorizationClient(SUB);
    await auth.roleAssignments.create(vmId("vm-a"), "0c0c0c0c-0000-4000-8000-00000000000c", { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`, principalId: ALICE, description: "aadlogin-enforcer" });
    await auth.roleAssignments.create(vmId("vm-a"), "0d0d0d0d-0000-4000-8000-00000000000d", { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`, principalId: BOB });

    const vms = await rows(VM_QUERY, { subscriptions: [SUB], options: { $top: 1000, resultFormat: "objectArray" } });
    expect(vms.find((r) => r["name"] === "vm-a")).toMatchObject({
      id: vmId("vm-a"),
      location: "westeurope",
      tags: { env: "prod" },
      identity: { type: "SystemAssigned", principalId: expect.any(String), tenantId: t.emulator.tenantId },
      osType: "Windows",
      imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter" },
      vmSize: "Standard_D2s_v3",
      provisioningState: "Succeeded",
      powerState: "PowerState/running",
      osName: "Windows Server 2019 Datacenter",
      osVersion: "10.0.17763.6532",
    });
    expect(vms.find((r) => r["name"] === "vm-b")).toMatchObject({ powerState: "PowerState/deallocated", osName: null, osVersion: null });

    expect(await rows(EXTENSION_QUERY, { subscriptions: [SUB] })).toEqual([
      { id: `${vmId("vm-a")}/extensions/AADLoginForWindows`, name: "AADLoginForWindows", publisher: "Microsoft.Azure.ActiveDirectory", extensionType: "AADLoginForWindows", typeHandlerVersion: "2.0", provisioningState: "Succeeded" },
    ]);
    expect(await rows(ASSIGNMENT_QUERY, { subscriptions: [SUB] })).toEqual([
      {
        id: `${vmId("vm-a")}/providers/Microsoft.Authorization/roleAssignments/0c0c0c0c-0000-4000-8000-00000000000c`,
        name: "0c0c0c0c-0000-4000-8000-00000000000c",
        scope: vmId("vm-a"),
        roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`,
        principalId: ALICE,
        principalType: "User",
        description: "aadlogin-enforcer",
      },
    ]);
  });
});

describe("the KQL subset", () => {
  const names = async (text: string): Promise<unknown[]> => (await rows(text)).map((r) => r["name"]);

  it.each([
    ["Resources | where name in ('vm-a', 'VM-C') | project name", ["vm-a"]],
    ["Resources | where name in~ ('vm-a', 'VM-C') | project name | order by name asc", ["vm-a", "vm-c"]],
    ["Resources | where name !in~ ('VM-A') | project name | order by name asc", ["vm-b", "vm-c"]],
    ["Resources | where name !in ('vm-a', 'vm-b') | project name", ["vm-c"]],
    ["Resources | where tags.env =~ 'test' | project name", ["vm-b"]],
    ["Resources | where tags.env == 'test' | project name", []],
    ["Resources | where tags.env != 'prod' | project name | order by name asc", ["vm-b", "vm-c"]],
    ["Resources | where tags.env !~ 'PROD' and isnotempty(tags.env) | project name", ["vm-b"]],
    ["Resources | where isempty(tags['aadlogin-admins']) | project name | order by name asc", ["vm-b", "vm-c"]],
    ["Resources | where tags['aadlogin-admins'] has 'contoso' | project name", ["vm-a"]],
    ["Resources | where tags['aadlogin-admins'] has 'conto' | project name", []],
    ["Resources | where tags['aadlogin-admins'] contains 'CONTO' | project name", ["vm-a"]],
    ["Resources | where tags['aadlogin-admins'] contains_cs 'CONTO' | project name", []],
    ["Resources | where name startswith 'VM-' and name !endswith 'b' | project name | order by name desc", ["vm-c", "vm-a"]],
    ["Resources | where not(name == 'vm-a') and (location == 'westeurope' or location == 'nowhere') | project name | order by name", ["vm-c", "vm-b"]],
    ["Resources | where name == 'vm-a' or name == 'vm-b' and tags.env == 'nope' | project name", ["vm-a"]],
    ["Resources | where (name == 'vm-a' or name == 'vm-b') and tags.env == 'nope' | project name", []],
    ["Resources | where tostring(properties.storageProfile.imageReference.offer) has 'ubuntu' | project name", ["vm-c"]],
    ["Resources | extend os = tolower(properties.extended.instanceView.osName) | where os startswith 'windows server 20' | project name, os | order by name asc", ["vm-a"]],
    ["Resources | order by name asc | take 2 | project name", ["vm-a", "vm-b"]],
    ["Resources | sort by name | limit 1 | project name", ["vm-c"]],
    ["where type =~ 'microsoft.compute/virtualmachines' and subscriptionId == '" + SUB2 + "' | project name", ["vm-c"]],
    ["resources\n| where name == \"vm-b\" // comment\n| project name", ["vm-b"]],
    ["Resources | project id, n = name, e = tags.env | where e =~ 'PROD' | project name = n", ["vm-a"]],
    ["Resources | extend name = toupper(name) | where name == 'VM-B' | project name", ["VM-B"]],
    ["Resources | where isnull(tags.env) and isnotnull(properties.vmId) | project name", ["vm-c"]],
    ["Resources | where tags.env has_cs 'Test' and name !has 'vm' | project name", []],
    ["Resources | where name == @'vm-a' or name contains \"-C\" | project name | order by name asc", ["vm-a", "vm-c"]],
    ["Resources | where properties.storageProfile.imageReference['sku'] endswith_cs 'LTS' | project name", []],
  ])("%s", async (text, expected) => {
    expect(await names(text)).toEqual(expected);
  });

  it("refuses operators outside the subset, naming them", async () => {
    const summarize = await refused("Resources | summarize count() by location");
    expect(summarize).toMatchObject({ code: "InvalidQueryLanguage", token: "summarize", line: 1, characterPositionInLine: 12 });
    expect(summarize.message).toContain("'summarize' is outside the local emulator's KQL subset");
    expect(await refused("Resources | mv-expand tags")).toMatchObject({ code: "InvalidQueryLanguage", token: "mv-expand" });
    expect(await refused("Resources | join kind=inner (AuthorizationResources) on id")).toMatchObject({ token: "join" });
    expect(await refused("Resources | where strlen(name) > 3")).toMatchObject({ code: "InvalidQueryLanguage", token: "strlen" });
    expect(await refused("ResourceContainers | project id")).toMatchObject({ code: "InvalidQueryLanguage", token: "ResourceContainers" });
    expect(await refused("Resources | where name between (1 .. 2)")).toMatchObject({ code: "InvalidQueryLanguage", token: "between" });
  });

  it("refuses malformed text with its line and position", async () => {
    expect(await refused("Resources\n| where name == ")).toMatchObject({ code: "ParserFailure", line: 2, token: "<end of query>" });
    expect(await refused("Resources | where name == 'vm-a")).toMatchObject({ code: "ParserFailure", line: 1, characterPositionInLine: 26 });
    expect(await refused("Resources | project id,")).toMatchObject({ code: "ParserFailure" });
    expect(await refused("Resources | where name == 'a' 'b'")).toMatchObject({ code: "ParserFailure", token: "'b'" });
    expect(await refused("Resources | project tolower(name)")).toMatchObject({ code: "ParserFailure", message: expect.stringContaining("needs a name") });
  });

  it("refuses unknown columns, also after a project dropped them", async () => {
    expect(await refused("Resources | where nme == 'vm-a'")).toMatchObject({ code: "SemanticError", token: "nme" });
    expect(await refused("Resources | project id | where name == 'vm-a'")).toMatchObject({ code: "SemanticError", token: "name" });
  });

  it("answers in table format on request", async () => {
    const res = await query({ query: "Resources | project id, name, vmId = properties.vmId | order by name asc | take 1", options: { resultFormat: "table" } });
    expect(res.body.data.columns).toEqual([{ name: "id", type: "string" }, { name: "name", type: "string" }, { name: "vmId", type: "string" }]);
    expect(res.body.data.rows[0].slice(0, 2)).toEqual([vmId("vm-a"), "vm-a"]);
  });
});

describe("paging and scopes", () => {
  const many = (): void =>
    t.emulator.seed({ vms: Array.from({ length: 7 }, (_, i) => ({ id: vmId(`p-${i}`), body: armBody(image("2019-Datacenter")) })) });

  it("pages with $top and an opaque $skipToken while id is projected", async () => {
    many();
    const text = "Resources | where name startswith 'p-' | project id, name";
    const seen: string[] = [];
    let token: string | undefined;
    const counts: number[] = [];
    do {
      const res = await query({ subscriptions: [SUB], query: text, options: { $top: 3, ...(token ? { $skipToken: token } : {}) } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ totalRecords: 7, resultTruncated: "false", facets: [] });
      counts.push(res.body.count);
      seen.push(...res.body.data.map((r: { id: string }) => r.id));
      token = res.body.$skipToken;
    } while (token);
    expect(counts).toEqual([3, 3, 1]);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => vmId(`p-${i}`)));
  });

  it("cannot page without id or with take: resultTruncated and no $skipToken", async () => {
    many();
    const noId = await query({ query: "Resources | where name startswith 'p-' | project name", options: { $top: 2 } });
    expect(noId.body).toMatchObject({ totalRecords: 7, count: 2, resultTruncated: "true" });
    expect(noId.body.$skipToken).toBeUndefined();
    const take = await query({ query: "Resources | where name startswith 'p-' | take 5", options: { $top: 2 } });
    expect(take.body).toMatchObject({ totalRecords: 5, count: 2, resultTruncated: "true" });
    expect(take.body.$skipToken).toBeUndefined();
    const all = await query({ query: "Resources | project name", options: { $top: 50 } });
    expect(all.body).toMatchObject({ totalRecords: 10, count: 10, resultTruncated: "false" });
  });

  it("refuses a $skipToken of another query, a forged one, and $top over 1000", async () => {
    many();
    const first = await query({ query: "Resources | project id", options: { $top: 2 } });
    const other = await query({ query: "Resources | project id, name", options: { $skipToken: first.body.$skipToken } });
    expect(other.status).toBe(400);
    expect(other.body.error.details[0]).toMatchObject({ code: "InvalidSkipToken", message: expect.stringContaining("another query") });
    expect((await query({ query: "Resources | project id", options: { $skipToken: "bm90IGEgdG9rZW4=" } })).body.error.details[0].code).toBe("InvalidSkipToken");
    const top = await query({ query: "Resources", options: { $top: 1001 } });
    expect([top.status, top.body.error.details[0].message]).toEqual([400, "'options.$top' must be a whole number from 1 to 1000; got 1001."]);
    expect((await query({ query: "Resources", options: { $skip: 8 } })).body).toMatchObject({ totalRecords: 10, count: 2 });
    // With limit/take, $skip is ignored.
    expect((await query({ query: "Resources | take 3", options: { $skip: 2 } })).body).toMatchObject({ totalRecords: 3, count: 3 });
  });

  it("limits rows to the subscriptions in the body; unknown ones are skipped, only unknown ones refused", async () => {
    const DEAD = "00000000-0000-4000-8000-00000000dead";
    expect((await rows("Resources | project name", { subscriptions: [SUB2] })).map((r) => r["name"])).toEqual(["vm-c"]);
    expect((await rows("Resources | project name", { subscriptions: [SUB2, DEAD] })).map((r) => r["name"])).toEqual(["vm-c"]);
    const none = await query({ query: "Resources | project name", subscriptions: [DEAD] });
    expect([none.status, none.body.error.code, none.body.error.details]).toEqual([
      400,
      "BadRequest",
      [{ code: "NoValidSubscriptionsInQueryRequest", message: `There must be at least one subscription that is eligible to contain resources. Given: '${DEAD}'.` }],
    ]);
    expect((await rows("Resources | project name", { subscriptions: [SUB.toUpperCase(), SUB2] })).length).toBe(3);
  });

  it("refuses a body without a query, management groups, and unknown api-versions", async () => {
    expect((await query({ subscriptions: [SUB] })).body.error.details[0].message).toContain("'query' is required");
    expect((await query({ query: "Resources", managementGroups: ["mg1"] })).status).toBe(400);
    const old = await armCall(t.emulator.armUrl, t.emulator.caPem, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2019-04-01", { token: t.emulator.tokenFor(ALICE), body: { query: "Resources" } });
    expect([old.status, old.body.error.code]).toEqual([400, "NoRegisteredProviderFound"]);
    const get = await armCall(t.emulator.armUrl, t.emulator.caPem, "GET", ARG_PATH, { token: t.emulator.tokenFor(ALICE) });
    expect(get.status).toBe(405);
  });
});

describe("quota", () => {
  it("sends the user's quota headers on every answer: 15 per 5 s by default", async () => {
    const ok = await query({ query: "Resources | project id" });
    expect([ok.headers["x-ms-user-quota-remaining"], ok.headers["x-ms-user-quota-resets-after"]]).toEqual(["14", "00:00:05"]);
    const bad = await query({ query: "Resources | summarize" });
    expect(bad.status).toBe(400);
    expect(bad.headers["x-ms-user-quota-remaining"]).toBe("13");
  });

  it("answers 429 RateLimiting with Retry-After once a user's window is spent; other users are not affected", async () => {
    t.emulator.setLimits({ resourceGraphQueriesPerWindow: 3, resourceGraphWindowMs: 90_000 });
    const remaining: unknown[] = [];
    for (let i = 0; i < 3; i++) remaining.push((await query({ query: "Resources | project id" }, ALICE)).headers["x-ms-user-quota-remaining"]);
    expect(remaining).toEqual(["2", "1", "0"]);
    const throttled = await query({ query: "Resources | project id" }, ALICE);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error).toMatchObject({ code: "RateLimiting", details: [{ code: "RateLimiting", message: expect.stringContaining("https://aka.ms/resourcegraph-throttling") }] });
    expect(throttled.headers["x-ms-user-quota-remaining"]).toBe("0");
    expect(throttled.headers["x-ms-user-quota-resets-after"]).toMatch(/^00:01:(2\d|30)$/);
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThanOrEqual(80);
    expect((await query({ query: "Resources | project id" }, BOB)).status).toBe(200);
  });

  it("a new window starts once the old one has passed", async () => {
    t.emulator.setLimits({ resourceGraphQueriesPerWindow: 1, resourceGraphWindowMs: 100 });
    expect((await query({ query: "Resources" }, ALICE)).status).toBe(200);
    expect((await query({ query: "Resources" }, ALICE)).status).toBe(429);
    await new Promise((r) => setTimeout(r, 120));
    expect((await query({ query: "Resources" }, ALICE)).status).toBe(200);
  });
});

describe("staleness", () => {
  const tagsOf = async (name: string): Promise<unknown> => (await rows(`Resources | where name == '${name}' | project id, tags`))[0]?.["tags"];

  it("shows ARM's state as of now - lag: a change made just before a query is not visible yet", async () => {
    // A long lag keeps the test independent of the machine's speed; the lag is read at query time.
    t.emulator.setLimits({ resourceGraphLagMs: 60_000 });
    // Seeded resources exist already: visible at once.
    expect(await tagsOf("vm-a")).toEqual({ "aadlogin-admins": "alice@contoso.com", env: "prod" });
    await compute.virtualMachines.update(RG, "vm-a", { tags: { env: "prod" } }, FAST);
    expect(await tagsOf("vm-a")).toEqual({ "aadlogin-admins": "alice@contoso.com", env: "prod" });
    t.emulator.setLimits({ resourceGraphLagMs: 0 });
    expect(await tagsOf("vm-a")).toEqual({ env: "prod" });
  });

  it("a new VM appears and a deleted one disappears only after the lag", async () => {
    t.emulator.setLimits({ resourceGraphLagMs: 60_000 });
    await compute.virtualMachines.createOrUpdate(RG, "vm-new", image("2019-Datacenter"), FAST);
    await compute.virtualMachines.beginDeleteAndWait(RG, "vm-b", FAST);
    const names = async (): Promise<unknown[]> => (await rows("Resources | project name | order by name asc")).map((r) => r["name"]);
    expect(await names()).toEqual(["vm-a", "vm-b", "vm-c"]);
    // As of 100 ms ago: both changes are older than that once the clock has moved on.
    t.emulator.setLimits({ resourceGraphLagMs: 100 });
    await new Promise((r) => setTimeout(r, 120));
    expect(await names()).toEqual(["vm-a", "vm-c", "vm-new"]);
  });

  it("every page of one query reads the first page's snapshot", async () => {
    t.emulator.setLimits({ resourceGraphLagMs: 0 });
    const first = await query({ query: "Resources | project id, name, env = tags.env | order by name asc", options: { $top: 1 } });
    await compute.virtualMachines.update(RG, "vm-b", { tags: { env: "changed" } }, FAST);
    const second = await query({ query: "Resources | project id, name, env = tags.env | order by name asc", options: { $skipToken: first.body.$skipToken } });
    expect(second.body.data).toEqual([expect.objectContaining({ name: "vm-b", env: "Test" })]);
    expect((await rows("Resources | where name == 'vm-b' | project id, env = tags.env"))[0]?.["env"]).toBe("changed");
  });

  it("power state changes reach the rows when the operation settles", async () => {
    await compute.virtualMachines.beginDeallocateAndWait(RG, "vm-a", FAST);
    expect((await rows("Resources | where name == 'vm-a' | project id, p = properties.extended.instanceView.powerState.code"))[0]?.["p"]).toBe("PowerState/deallocated");
  });

  it("realistic timing lags by 5 s × timeScale unless the limit says otherwise", async () => {
    t.emulator.setTiming({ profile: "realistic", timeScale: 0.2 }); // lag 1 s
    t.emulator.setVmSimulation({ id: vmId("vm-b"), powerState: "running" });
    const power = async (): Promise<unknown> => (await rows("Resources | where name == 'vm-b' | project id, p = properties.extended.instanceView.powerState.code"))[0]?.["p"];
    expect(await power()).toBe("PowerState/deallocated");
    await new Promise((r) => setTimeout(r, 1050));
    expect(await power()).toBe("PowerState/running");
  });
});
