import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/**
 * Azurite's table and queue services in this process, in memory, on 127.0.0.1.
 * Port 0 picks free ports (tests); `npm start` passes the well-known 10002/10001.
 * Azurite has no public programmatic API, so this reaches into its server classes; the package
 * version is pinned, which keeps these internal paths stable. The API-version check is skipped (Azurite's
 * own `--skipApiVersionCheck`): the pinned storage SDKs send service versions newer than Azurite 3.35
 * knows, and the operations used here are unchanged between them.
 */
const require = createRequire(import.meta.url);

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  clean?(): Promise<void>;
  getHttpServerAddress(): string;
  readonly server?: { address(): AddressInfo | string | null };
  readonly httpServer?: { address(): AddressInfo | string | null };
}

/** The well-known development account every Azure SDK and Azurite share. */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface StartAzuriteOptions {
  /** 0 (default) picks a free port. */
  readonly tablePort?: number;
  readonly queuePort?: number;
  readonly host?: string;
}

export interface AzuriteInstance {
  readonly tableUrl: string;
  readonly queueUrl: string;
  /** A connection string for both services (what AzureWebJobsStorage holds locally). */
  readonly connectionString: string;
  close(): Promise<void>;
}

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const host = options.host ?? "127.0.0.1";
  const TableServer = require("azurite/dist/src/table/TableServer.js").default;
  const TableConfiguration = require("azurite/dist/src/table/TableConfiguration.js").default;
  const QueueServer = require("azurite/dist/src/queue/QueueServer.js").default;
  const QueueConfiguration = require("azurite/dist/src/queue/QueueConfiguration.js").default;

  const tableConfig = new TableConfiguration(
    host, options.tablePort ?? 0, undefined, undefined, false, false, undefined, undefined,
    false, /* skipApiVersionCheck */ true, "", "", "", undefined, false, /* isMemoryPersistence */ true,
  );
  const queueConfig = new QueueConfiguration(
    host, options.queuePort ?? 0, undefined, undefined, undefined, undefined, false, undefined, false, undefined,
    false, /* skipApiVersionCheck */ true, "", "", "", undefined, false, /* isMemoryPersistence */ true,
  );
  const table: AzuriteServer = new TableServer(tableConfig);
  const queue: AzuriteServer = new QueueServer(queueConfig);
  try {
    await table.start();
    await queue.start();
  } catch (error) {
    await Promise.allSettled([table.close(), queue.close()]);
    throw new Error(
      `Could not start Azurite on ${host} (table port ${options.tablePort ?? 0}, queue port ${options.queuePort ?? 0}): ` +
        `${(error as Error).message}. Is another Azurite or service using the port?`,
    );
  }
  const tableUrl = `http://${host}:${portOf(table)}/${DEV_ACCOUNT}`;
  const queueUrl = `http://${host}:${portOf(queue)}/${DEV_ACCOUNT}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `TableEndpoint=${tableUrl};QueueEndpoint=${queueUrl};`;
  return {
    tableUrl,
    queueUrl,
    connectionString,
    async close() {
      await Promise.allSettled([table.close(), queue.close()]);
      await Promise.allSettled([table.clean?.(), queue.clean?.()]);
    },
  };
}

function portOf(server: AzuriteServer): number {
  const address = server.getHttpServerAddress();
  const match = /:(\d+)$/.exec(address);
  if (!match?.[1]) throw new Error(`Azurite reported an address without a port: ${address}`);
  return Number(match[1]);
}
