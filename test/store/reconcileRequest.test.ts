import { describe, expect, it } from "vitest";
import { encodeQueueMessage, parseReconcileRequest, type ReconcileRequest } from "../../src/store/reconcileRequest.js";

const VM = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
const FULL: ReconcileRequest = {
  vmId: VM,
  trigger: "audit",
  runId: "run-1",
  eventId: "evt-1",
  correlationId: "corr-1",
  requestedBy: "oid-1",
  mode: "report",
};
const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("encodeQueueMessage", () => {
  it("is base64 of the request's JSON", () => {
    const text = encodeQueueMessage(FULL);
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.parse(Buffer.from(text, "base64").toString("utf8"))).toEqual(FULL);
  });

  it("drops fields that are not part of a request", () => {
    const text = encodeQueueMessage({ vmId: VM, trigger: "cli", extra: "x" } as ReconcileRequest);
    expect(JSON.parse(Buffer.from(text, "base64").toString("utf8"))).toEqual({ vmId: VM, trigger: "cli" });
  });

  it("refuses to encode an invalid request", () => {
    expect(() => encodeQueueMessage({ vmId: "vm1", trigger: "audit" })).toThrow(/vmId "vm1" is not a VM resource id/);
  });
});

describe("parseReconcileRequest", () => {
  it.each([
    ["the object the Functions host hands over", FULL],
    ["a JSON string", JSON.stringify(FULL)],
    ["base64 JSON", base64(JSON.stringify(FULL))],
    ["base64 JSON with surrounding whitespace", `\n${base64(JSON.stringify(FULL))} `],
    ["bytes of base64 JSON", new TextEncoder().encode(base64(JSON.stringify(FULL)))],
    ["bytes of JSON", Buffer.from(JSON.stringify(FULL))],
    ["our own encoding", encodeQueueMessage(FULL)],
  ])("reads %s", (_label, raw) => {
    expect(parseReconcileRequest(raw)).toEqual(FULL);
  });

  it("accepts a VM id in any case and null optional fields", () => {
    const raw = { vmId: VM.toUpperCase().replace("/SUBSCRIPTIONS", "/subscriptions"), trigger: "event", eventId: null, mode: null };
    expect(parseReconcileRequest(raw)).toEqual({ vmId: raw.vmId, trigger: "event" });
  });

  it.each([
    ["an empty message", "", /the message is empty/],
    ["plain text", "reconcile vm1 please", /neither JSON nor base64-encoded JSON/],
    ["base64 of plain text", base64("hello world"), /base64, but what it encodes is not a JSON object/],
    ["broken JSON", '{"vmId": ', /not valid JSON/],
    ["a JSON array", "[1,2]", /expected a JSON object, got an array/],
    ["null", null, /expected a JSON object, got null/],
    ["a number", 42, /expected a JSON object, got number/],
    ["a missing vmId", { trigger: "audit" }, /vmId is missing/],
    ["a vmId that is a resource group", { vmId: "/subscriptions/s/resourceGroups/rg", trigger: "audit" }, /vmId "\/subscriptions\/s\/resourceGroups\/rg" is not a VM resource id/],
    ["a vmId of an extension", { vmId: `${VM}/extensions/AADLoginForWindows`, trigger: "audit" }, /is not a VM resource id/],
    ["a vmId that is not a string", { vmId: 7, trigger: "audit" }, /vmId 7 is not a VM resource id/],
    ["an unknown trigger", { vmId: VM, trigger: "timer" }, /trigger "timer" is not one of audit, event, http, cli/],
    ["a missing trigger", { vmId: VM }, /trigger undefined is not one of/],
    ["a numeric eventId", { vmId: VM, trigger: "event", eventId: 5 }, /eventId must be a string, got 5/],
    ["an unknown mode", { vmId: VM, trigger: "http", mode: "dry-run" }, /mode "dry-run" is not one of enforce, report/],
    ["a follow-up attempt that is not a whole number", { vmId: VM, trigger: "follow-up", attempt: 1.5 }, /attempt must be a whole number from 0 to 1000, got 1.5/],
    ["a follow-up attempt out of range", { vmId: VM, trigger: "follow-up", attempt: 5000 }, /attempt must be a whole number from 0 to 1000, got 5000/],
    ["a VM id with a .. segment", { vmId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/..", trigger: "event" }, /is not a VM resource id/],
  ])("rejects %s with a clear error", (_label, raw, error) => {
    expect(() => parseReconcileRequest(raw)).toThrow(error);
    expect(() => parseReconcileRequest(raw)).toThrow(/^Invalid reconcile request: /);
  });

  it("quotes a long malformed message only in part", () => {
    const error = (() => {
      try {
        parseReconcileRequest({ vmId: "x".repeat(5000), trigger: "audit" });
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a failure");
    })();
    expect(error.message.length).toBeLessThan(5000);
    expect(error.message).toMatch(/…$/);
  });
});
