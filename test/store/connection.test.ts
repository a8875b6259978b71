import { describe, expect, it } from "vitest";
import { isLoopbackHttp, tableEndpointFromConnectionString } from "../../src/store/connection.js";

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
