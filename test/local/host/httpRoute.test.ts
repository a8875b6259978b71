import { describe, expect, it } from "vitest";
import { compileHttpRoute } from "../../../src/local/host/httpRoute.js";

describe("compileHttpRoute", () => {
  it.each([
    ["status", "/status", {}],
    ["status", "/STATUS/", {}],
    ["status", "/status/x", undefined],
    ["status/{id?}", "/status", {}],
    ["status/{id?}", "/status/vm%201", { id: "vm 1" }],
    ["vms/{id:int}", "/vms/42", { id: "42" }],
    ["vms/{id:int}", "/vms/abc", undefined],
    ["files/{*path}", "/files/a/b/c", { path: "a/b/c" }],
    ["", "/", {}],
  ])("%s matches %s as %j", (template, path, params) => {
    expect(compileHttpRoute(template).match(path)).toEqual(params);
  });
});
