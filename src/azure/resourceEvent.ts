import type { ResourceEvent } from "../orchestrator/ports.js";
import { EventGridDeserializer, isSystemEvent, type EventGridEvent } from "@azure/eventgrid";

/** An ARM resource event in domain terms: the event is a pointer, never the state. */
export type { ResourceEvent } from "../orchestrator/ports.js";

const OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
const deserializer = new EventGridDeserializer();

/**
 * Parses one Event Grid event as the Functions Event Grid trigger hands it over (an object) with
 * the SDK's deserializer, which checks the envelope. Throws an Error naming what is wrong.
 */
export async function parseResourceEvent(raw: unknown): Promise<ResourceEvent> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`Event Grid event must be a JSON object, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}.`);
  }
  let events: EventGridEvent<unknown>[];
  try {
    events = await deserializer.deserializeEventGridEvents(raw as Record<string, unknown>);
  } catch (error) {
    throw new Error(`Malformed Event Grid event (id ${describeId(raw)}): ${(error as Error).message}`);
  }
  const event = events[0];
  if (!event) throw new Error(`Malformed Event Grid event (id ${describeId(raw)}): no event in the payload.`);
  const base = { id: event.id, eventType: event.eventType, subject: event.subject };
  if (
    isSystemEvent("Microsoft.Resources.ResourceWriteSuccess", event) ||
    isSystemEvent("Microsoft.Resources.ResourceDeleteSuccess", event) ||
    isSystemEvent("Microsoft.Resources.ResourceActionSuccess", event)
  ) {
    const data = event.data as { operationName?: unknown; subscriptionId?: unknown; correlationId?: unknown; claims?: unknown } | undefined;
    if (!data || typeof data !== "object") throw new Error(`Malformed ${event.eventType} event ${event.id}: no data.`);
    const claims = (data.claims && typeof data.claims === "object" ? data.claims : {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
    const objectId = str(claims[OBJECT_ID_CLAIM]) ?? str(claims["oid"]);
    const appId = str(claims["appid"]) ?? str(claims["azp"]);
    const upn = str(claims[UPN_CLAIM]) ?? str(claims["upn"]);
    const correlationId = str(data.correlationId);
    return {
      ...base,
      operationName: str(data.operationName) ?? "",
      subscriptionId: str(data.subscriptionId) ?? "",
      ...(correlationId ? { correlationId } : {}),
      ...(objectId ? { callerObjectId: objectId.toLowerCase() } : {}),
      ...(appId ? { callerAppId: appId.toLowerCase() } : {}),
      ...(upn ? { callerUpn: upn } : {}),
    };
  }
  return { ...base, operationName: "", subscriptionId: "" };
}

function describeId(raw: object): string {
  const id = (raw as { id?: unknown }).id;
  return typeof id === "string" ? JSON.stringify(id.slice(0, 80)) : "(missing)";
}
