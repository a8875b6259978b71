import { describe, expect, it } from "vitest";
import { loadAppSettings } from "../../src/app/settings.js";
import { isLoopbackHttp, storageConnectionFromSettings, tableEndpointFromConnectionString } from "../../src/store/connection.js";

describe("tableEndpointFromConnectionString", () => {
  it.each([
    ["development storage", "UseDevelopmentStorage=true", "http://127.0.0.1:10002/devstoreaccount1"],
    ["an explicit endpoint, any key case", "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k==;tableendpoint=http://localhost:5/a;", "http://localhost:5/a"],
    ["an account only", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==;EndpointSuffix=core.windows.net", undefined],
  ])("reads %s", (_label, connectionString, expected) => {
    expect(tableEndpointFromConnectionString(connectionString)).toBe(expected);
  });
});

describe("isLoopbackHttp", () => {
  it.each([
    ["http://127.0.0.1:10002/devstoreaccount1", true],
    ["http://localhost:1/x", true],
    ["http://[::1]:1/x", true],
    ["https://127.0.0.1:10002/x", false],
    ["http://acct.table.core.windows.net", false],
    ["http://127.0.0.1.evil.example/x", false],
    ["not a url", false],
    [undefined, false],
  ])("%s → %s", (endpoint, expected) => {
    expect(isLoopbackHttp(endpoint)).toBe(expected);
  });
});

describe("storageConnectionFromSettings: the identity-based connection the infra sets works in every cloud", () => {
  const credential = { getToken: async () => null };
  // What infra/app/function.bicep sets in Azure Government (environment().suffixes.storage).
  const gov = {
    AzureWebJobsStorage__queueServiceUri: "https://stacct.queue.core.usgovcloudapi.net",
    AzureWebJobsStorage__tableServiceUri: "https://stacct.table.core.usgovcloudapi.net/",
  };

  it.each([
    ["table", "https://stacct.table.core.usgovcloudapi.net"],
    ["queue", "https://stacct.queue.core.usgovcloudapi.net"],
  ] as const)("the %s service URI wins over the account name and the connection string", (service, endpoint) => {
    const source = { ...gov, AzureWebJobsStorage__accountName: "stacct", AzureWebJobsStorage: "UseDevelopmentStorage=true" };
    expect(storageConnectionFromSettings(source, credential, service, "")).toEqual({ endpoint, credential });
  });

  it("the store and the queue each use their own service's endpoint", () => {
    expect(loadAppSettings(gov, credential).store).toEqual({ tableEndpoint: "https://stacct.table.core.usgovcloudapi.net", credential, tablePrefix: "aadlogin" });
    expect(loadAppSettings(gov, credential).queue).toEqual({ queueEndpoint: "https://stacct.queue.core.usgovcloudapi.net", credential, queueName: "reconcile-requests" });
  });

  it("falls back to the account name (public Azure), then to the connection string (Azurite)", () => {
    expect(storageConnectionFromSettings({ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage: "x" }, credential, "table", "")).toEqual({ accountName: "acct", credential });
    // Only the queue URI set: the table falls back, it does not borrow the queue's endpoint.
    expect(storageConnectionFromSettings({ AzureWebJobsStorage__queueServiceUri: gov.AzureWebJobsStorage__queueServiceUri, AzureWebJobsStorage: "UseDevelopmentStorage=true" }, credential, "table", "")).toEqual({
      connectionString: "UseDevelopmentStorage=true",
    });
  });

  it.each([
    ["plain http to a remote host", "http://stacct.table.core.windows.net", /must use https/],
    ["not a URL", "stacct.table.core.windows.net", /must be a URL such as https:\/\/<account>\.table\.core\.windows\.net/],
  ])("refuses %s, naming the setting", (_label, value, message) => {
    expect(() => storageConnectionFromSettings({ AzureWebJobsStorage__tableServiceUri: value }, credential, "table", "")).toThrow(message);
    expect(() => storageConnectionFromSettings({ AzureWebJobsStorage__tableServiceUri: value }, credential, "table", "")).toThrow(/AzureWebJobsStorage__tableServiceUri/);
  });

  it("shows the expected form for the service's own setting", () => {
    expect(() => storageConnectionFromSettings({ AzureWebJobsStorage__queueServiceUri: "acct" }, credential, "queue", "")).toThrow(
      /AzureWebJobsStorage__queueServiceUri must be a URL such as https:\/\/<account>\.queue\.core\.windows\.net, got "acct"/,
    );
  });

  it("accepts http only for the local emulator on the loopback interface", () => {
    expect(storageConnectionFromSettings({ AzureWebJobsStorage__queueServiceUri: "http://127.0.0.1:10001/devstoreaccount1" }, credential, "queue", "")).toEqual({
      endpoint: "http://127.0.0.1:10001/devstoreaccount1",
      credential,
    });
  });

  it("names the service's own setting when nothing is configured", () => {
    expect(() => storageConnectionFromSettings({}, credential, "queue", " for the reconcile queue")).toThrow(
      /No storage connection configured for the reconcile queue: set AzureWebJobsStorage__queueServiceUri/,
    );
  });
});
