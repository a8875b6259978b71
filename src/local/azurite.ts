import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";

/**
 * Azurite's table and queue services in this process, on 127.0.0.1: in memory, or on disk in
 * `location` (Azurite's own LokiJS databases and queue extent files, the layout of `azurite --location`).
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
  /**
   * A directory to persist tables and queues in (created if missing); a restart on the same
   * directory sees the same entities and messages, invisible and delayed ones with their visibility.
   * Default: in memory, gone at close.
   */
  readonly location?: string;
  /**
   * On disk only: how often changed LokiJS databases are written (default 250 ms). Azurite itself
   * autosaves every 5 s, so a killed process could lose up to 5 s of writes; saved here on one timer,
   * queue extent metadata before the messages that point into it.
   */
  readonly flushIntervalMs?: number;
}

export interface AzuriteInstance {
  readonly tableUrl: string;
  readonly queueUrl: string;
  /** A connection string for both services (what AzureWebJobsStorage holds locally). */
  readonly connectionString: string;
  /** The directory tables and queues persist in, if any. */
  readonly location?: string;
  /** In memory: stops and drops everything. On disk: writes what changed, then stops. */
  close(): Promise<void>;
}

/** A LokiJS database as Azurite's stores hold it (`store.db`). */
interface LokiDb {
  autosave: boolean;
  autosaveDisable(): void;
  autosaveDirty(): boolean;
  saveDatabase(callback: (error?: Error | null) => void): void;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 250;

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const host = options.host ?? "127.0.0.1";
  const TableServer = require("azurite/dist/src/table/TableServer.js").default;
  const TableConfiguration = require("azurite/dist/src/table/TableConfiguration.js").default;
  const QueueServer = require("azurite/dist/src/queue/QueueServer.js").default;
  const QueueConfiguration = require("azurite/dist/src/queue/QueueConfiguration.js").default;

  const location = options.location === undefined ? undefined : resolve(options.location);
  const inMemory = location === undefined;
  // Azurite's own file names (src/{table,queue}/utils/constants.ts), so `azurite --location DIR` could open the same directory.
  const at = (name: string) => (location === undefined ? undefined : join(location, name));
  if (location !== undefined) mkdirSync(join(location, "__queuestorage__"), { recursive: true });

  const tableConfig = new TableConfiguration(
    host, options.tablePort ?? 0, undefined, /* metadataDBPath */ at("__azurite_db_table__.json"), false, false, undefined, undefined,
    false, /* skipApiVersionCheck */ true, "", "", "", undefined, false, /* isMemoryPersistence */ inMemory,
  );
  const queueConfig = new QueueConfiguration(
    host, options.queuePort ?? 0, undefined,
    /* metadataDBPath */ at("__azurite_db_queue__.json"),
    /* extentDBPath */ at("__azurite_db_queue_extent__.json"),
    /* persistencePathArray */ location === undefined ? undefined : [{ locationId: "Default", locationPath: join(location, "__queuestorage__"), maxConcurrency: 1 }],
    false, undefined, false, undefined,
    false, /* skipApiVersionCheck */ true, "", "", "", undefined, false, /* isMemoryPersistence */ inMemory,
  );
  const table: AzuriteServer = new TableServer(tableConfig);
  const queue: AzuriteServer = new QueueServer(queueConfig);
  const flusher = inMemory ? undefined : startFlusher(table, queue, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
  try {
    await table.start();
    await queue.start();
  } catch (error) {
    flusher?.stop();
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
  let closing: Promise<void> | undefined;
  return {
    tableUrl,
    queueUrl,
    connectionString,
    ...(location === undefined ? {} : { location }),
    close() {
      closing ??= (async () => {
        // Closing a store saves its database if it changed (LokiJS close with autosave on).
        flusher?.stop();
        await Promise.allSettled([table.close(), queue.close()]);
        if (inMemory) await Promise.allSettled([table.clean?.(), queue.clean?.()]);
      })();
      return closing;
    },
  };
}

/**
 * Replaces Azurite's 5-second LokiJS autosave (hard-coded in each store's constructor) with one
 * timer: every `intervalMs`, each changed database is written (LokiJS writes `file~` and renames it
 * over `file`, so a kill never leaves half a file). The queue's extent metadata goes before the
 * message metadata that points into it; the extent files themselves are written as messages arrive.
 */
function startFlusher(table: AzuriteServer, queue: AzuriteServer, intervalMs: number): { stop(): void } {
  const dbs = [
    (queue as unknown as { extentMetadataStore?: { db?: LokiDb } }).extentMetadataStore?.db,
    (queue as unknown as { metadataStore?: { db?: LokiDb } }).metadataStore?.db,
    (table as unknown as { metadataStore?: { db?: LokiDb } }).metadataStore?.db,
  ].filter((db): db is LokiDb => db !== undefined && typeof db.saveDatabase === "function");
  if (dbs.length !== 3) throw new Error("Azurite's LokiJS stores were not where this version keeps them (azurite is pinned: check src/local/azurite.ts).");
  // `autosave` stays true, so each store's close() still writes what changed since the last flush.
  for (const db of dbs) db.autosaveDisable();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      for (const db of dbs) {
        if (!db.autosaveDirty()) continue;
        await new Promise<void>((resolveSave) => db.saveDatabase(() => resolveSave()));
      }
    })().finally(() => (running = false));
  }, Math.max(10, intervalMs));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function portOf(server: AzuriteServer): number {
  const address = server.getHttpServerAddress();
  const match = /:(\d+)$/.exec(address);
  if (!match?.[1]) throw new Error(`Azurite reported an address without a port: ${address}`);
  return Number(match[1]);
}
