// The ARM expression evaluator the infra tests use as an oracle, checked on the semantics they rely on.
import { describe, expect, it } from "vitest";
import type { ArmTemplate, Json } from "./arm.js";
import { DeploymentFailure, evaluateVariable } from "../../src/local/armExpression.js";

function value(expression: string, parameters: Record<string, Json> = {}): Json {
  const template: ArmTemplate = { resources: [], variables: { v: expression } };
  return evaluateVariable({ template, parameters, subscriptionId: "s" }, "v");
}

describe("ARM expression evaluator (test oracle)", () => {
  it("reads literals, doubled quotes, parameters and case-insensitive properties", () => {
    expect(value("[format('{0}''s {1}', 'topic', 3)]")).toBe("topic's 3");
    expect(value("[parameters('o').Name]", { o: { name: "n" } })).toBe("n");
    expect(value("[parameters('o')['KEY']]", { o: { key: 1 } })).toBe(1);
    expect(value("[[not an expression]")).toBe("[not an expression]");
  });

  it("evaluates if() and coalesce() lazily, so fail() in the branch not taken never fires", () => {
    expect(value("[if(true(), 'a', fail('no'))]")).toBe("a");
    expect(value("[coalesce(tryGet(parameters('o'), 'x'), fail('x missing'))]", { o: { x: "here" } })).toBe("here");
    expect(() => value("[coalesce(tryGet(parameters('o'), 'x'), fail('x missing'))]", { o: {} })).toThrow(DeploymentFailure);
    expect(() => value("[coalesce(tryGet(parameters('o'), 'x'), fail('x missing'))]", { o: {} })).toThrow("x missing");
  });

  it("checks object keys case-insensitively and array items exactly", () => {
    expect(value("[contains(parameters('o'), 'ABC')]", { o: { abc: 1 } })).toBe(true);
    expect(value("[contains(createArray('abc'), 'ABC')]")).toBe(false);
  });

  it("runs lambdas", () => {
    expect(value("[filter(createArray('a', ''), lambda('x', not(empty(lambdaVariables('x')))))]")).toEqual(["a"]);
    expect(value("[map(createArray('a', 'B'), lambda('x', toLower(lambdaVariables('x'))))]")).toEqual(["a", "b"]);
  });

  it("refuses functions it does not know rather than guess", () => {
    expect(() => value("[utcNow()]")).toThrow(/utcNow\(\) is not known/);
  });
});
