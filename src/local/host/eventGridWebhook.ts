import type { RegisteredFunction } from "./functionApp.js";
import type { ExecuteFunction } from "./functionExecutor.js";

export interface WebhookResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * The Event Grid extension's webhook (`POST /runtime/webhooks/eventgrid?functionName=NAME`), as its
 * HttpRequestProcessor answers: `aeg-event-type: SubscriptionValidation` echoes the first event's
 * `data.validationCode`; `Notification` runs the function once per event (an array in the Event Grid
 * schema, or one CloudEvent object) in parallel and answers 202, or 500 if any run failed so Event
 * Grid redelivers the whole batch; `Unsubscribe` answers 202; anything else is a 400. The CloudEvents
 * abuse-protection handshake (`OPTIONS` with `WebHook-Request-Origin`) is answered too.
 */
export async function handleEventGridWebhook(
  fn: RegisteredFunction | undefined,
  functionName: string,
  method: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  bodyText: string,
  execute: ExecuteFunction,
): Promise<WebhookResponse> {
  if (!fn || fn.trigger.type.toLowerCase() !== "eventgridtrigger") {
    return text(404, `No Event Grid triggered function named "${functionName}" (pass it as ?functionName=NAME).`);
  }
  if (method === "OPTIONS") {
    const origin = header(headers, "webhook-request-origin");
    if (!origin) return text(400, "An OPTIONS request to the Event Grid webhook needs a WebHook-Request-Origin header.");
    return { status: 200, headers: { "WebHook-Allowed-Origin": origin } };
  }
  const eventType = header(headers, "aeg-event-type")?.toLowerCase();
  if (eventType === "unsubscribe") return { status: 202 };
  if (eventType !== "subscriptionvalidation" && eventType !== "notification") {
    return text(400, `Header aeg-event-type must be SubscriptionValidation, Notification or Unsubscribe; got ${JSON.stringify(header(headers, "aeg-event-type") ?? null)}.`);
  }

  let payload: unknown;
  try {
    payload = JSON.parse(bodyText);
  } catch (error) {
    return text(400, `The Event Grid request body is not valid JSON: ${(error as Error).message}`);
  }

  if (eventType === "subscriptionvalidation") {
    const first: unknown = Array.isArray(payload) ? payload[0] : payload;
    const code = (first as { data?: { validationCode?: unknown } } | undefined)?.data?.validationCode;
    if (typeof code !== "string") {
      return text(400, "A SubscriptionValidation request must carry an event whose data.validationCode is a string.");
    }
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ validationResponse: code }) };
  }

  const events = Array.isArray(payload) ? payload : [payload];
  if (events.some((event) => typeof event !== "object" || event === null || Array.isArray(event))) {
    return text(400, "An Event Grid notification must be an array of event objects (Event Grid schema) or one CloudEvent object.");
  }
  const outcomes = await Promise.all(
    events.map((event: Record<string, unknown>) => execute(fn, { json: JSON.stringify(event) }, { data: event["data"] })),
  );
  const failed = outcomes.find((outcome) => !outcome.ok);
  if (failed && !failed.ok) return text(500, `Function '${fn.name}' failed (invocation ${failed.invocationId}): ${failed.error.message}`);
  return { status: 202 };
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function text(status: number, message: string): WebhookResponse {
  return { status, headers: { "content-type": "text/plain; charset=utf-8" }, body: message };
}
