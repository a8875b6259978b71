import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly at: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: any[];
}

/** An Event Grid webhook for tests: answers the handshake, records notifications, answers as told. */
export interface TestWebhook {
  readonly url: string;
  readonly received: Received[];
  /** Per notification, in order: the status to answer (default `status`) and how long to wait first. */
  plan: Array<{ status?: number; delayMs?: number }>;
  /** What notifications beyond the plan get. */
  status: number;
  close(): Promise<void>;
}

export async function startWebhook(port = 0): Promise<TestWebhook> {
  let server: Server | undefined;
  const hook: TestWebhook = {
    url: "",
    received: [],
    plan: [],
    status: 200,
    async close() {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    },
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as any[];
      if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ validationResponse: body[0].data.validationCode }));
        return;
      }
      hook.received.push({ at: Date.now(), headers: req.headers, body });
      const step = hook.plan.shift() ?? {};
      const answer = (): void => {
        if (!res.destroyed) res.writeHead(step.status ?? hook.status).end();
      };
      if (step.delayMs) setTimeout(answer, step.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server?.listen(port, "127.0.0.1", r));
  (hook as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`;
  return hook;
}
