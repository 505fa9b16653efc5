// Opens the metadata database a URL names: `sqlite:PATH` (embedded, one process) or
// `postgres://USER:PASSWORD@HOST:PORT/DB` (shared by replicas). One Kysely query layer serves both;
// the schema is brought up to date here (storage/metadata/migrations.ts) before anything reads it.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Dialect, MetadataSchema } from './schema.js';
import { migrate } from './migrations.js';
import { PgListener, type ListenHandlers, type ListenOptions } from './pg-listener.js';

export type { Dialect };

export interface DatabaseLocation {
  dialect: Dialect;
  /** The file of an SQLite database; the connection string of a PostgreSQL one. */
  target: string;
}

/** Parses `sqlite:PATH` or `postgres://...`/`postgresql://...`; throws on anything else. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new Error('stowage.database.url: sqlite: needs a file path (sqlite:/var/lib/stowage/stowage.db)');
    return { dialect: 'sqlite', target: path === ':memory:' ? path : resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  throw new Error(`stowage.database.url must be sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (got ${JSON.stringify(url.slice(0, 40))})`);
}

/** The database's URL without its password, for logs and the readiness answer. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@');
}

export interface OpenOptions {
  /** SQLite: sync every commit to disk (synchronous=FULL); off only where storage is not synced either. */
  fsync?: boolean;
  /** PostgreSQL: connections in the pool. */
  poolSize?: number;
}

export type { ListenHandlers, ListenOptions };

/** What listen() returns: close() stops listening. */
export interface Subscription {
  close(): Promise<void>;
}

export class MetadataDatabase {
  private closed = false;
  /** SQLite's listeners, called in-process by announce(). */
  private readonly local = new Set<{ channel: string; handlers: ListenHandlers }>();
  /** PostgreSQL's LISTEN connections, one per listen(). */
  private readonly remote = new Set<PgListener>();
  /** SQLite's PRAGMA data_version: changes when another connection (process) commits. */
  private dataVersion?: { get(): unknown };

  private constructor(
    readonly db: Kysely<MetadataSchema>,
    readonly dialect: Dialect,
    readonly location: DatabaseLocation,
    private readonly pool?: PgPool,
  ) {}

  static async open(url: string, options: OpenOptions = {}): Promise<MetadataDatabase> {
    const location = parseDatabaseUrl(url);
    let database: MetadataDatabase;
    if (location.dialect === 'sqlite') {
      const Sqlite = loadBetterSqlite();
      if (location.target !== ':memory:') mkdirSync(dirname(location.target), { recursive: true });
      const connection = new Sqlite(location.target);
      // WAL: readers never wait for the writer; busy_timeout: a CLI command in another process
      // (gc, reindex) waits its turn instead of failing.
      connection.pragma('journal_mode = WAL');
      connection.pragma(`synchronous = ${options.fsync === false ? 'NORMAL' : 'FULL'}`);
      connection.pragma('busy_timeout = 10000');
      connection.pragma('foreign_keys = ON');
      database = new MetadataDatabase(new Kysely<MetadataSchema>({ dialect: new SqliteDialect({ database: connection }) }), 'sqlite', location);
      database.dataVersion = connection.prepare('PRAGMA data_version').pluck();
    } else {
      const pg = loadPg();
      const parsers = pg.types;
      const pool = new pg.Pool({
        connectionString: location.target,
        max: options.poolSize ?? 10,
        // int8 (counts, times, sizes) and numeric (sums) as numbers: both stay below 2^53 here.
        types: {
          getTypeParser: (oid: number, format?: 'text' | 'binary') =>
            oid === 20 || oid === 1700 ? (value: string) => Number(value) : parsers.getTypeParser(oid, format),
        },
      });
      // An idle connection the server ended (a restart, a failover) is replaced on next use; without
      // a listener the pool's 'error' would end the process.
      pool.on('error', () => {});
      database = new MetadataDatabase(new Kysely<MetadataSchema>({ dialect: new PostgresDialect({ pool }) }), 'postgres', location, pool);
    }
    try {
      await migrate(database.db as Kysely<unknown>, database.dialect);
    } catch (err) {
      await database.close();
      throw err;
    }
    return database;
  }

  /**
   * SQLite: a number that changes whenever another process has committed to the database since
   * (a CLI command beside the server); about 2 µs to read. PostgreSQL: undefined (its changes
   * are announced, see listen()).
   */
  otherProcessesVersion(): number | undefined {
    return this.dataVersion ? Number(this.dataVersion.get()) : undefined;
  }

  /** Tells every process on this database (and this one) that something changed. */
  async announce(channel: string, payload: string): Promise<void> {
    if (this.dialect === 'postgres') {
      await this.pool!.query('select pg_notify($1, $2)', [channel, payload]);
      return;
    }
    // One process per SQLite database: the announcement stays here.
    for (const entry of this.local) if (entry.channel === channel) entry.handlers.message(payload);
  }

  /**
   * Calls handlers.message for every announcement on channel, from any process. PostgreSQL: a
   * connection of its own held for LISTEN (storage/metadata/pg-listener.ts), which tells
   * handlers.live when announcements may be missed and when they are not any more; throws if
   * it cannot listen now. SQLite: this process's own announcements.
   */
  async listen(channel: string, handlers: ListenHandlers, options: ListenOptions = {}): Promise<Subscription> {
    if (this.dialect !== 'postgres') {
      const entry = { channel, handlers };
      this.local.add(entry);
      return { close: async () => void this.local.delete(entry) };
    }
    const listener = new PgListener(loadPg(), this.location.target, channel, handlers, options);
    await listener.start();
    this.remote.add(listener);
    return {
      close: async () => {
        this.remote.delete(listener);
        await listener.close();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.remote) await listener.close();
    this.remote.clear();
    this.local.clear();
    await this.db.destroy();
  }
}

type PgPool = import('pg').Pool;

// Loaded on first use: a registry on SQLite never loads pg, and the other way round.
const requireHere = createRequire(import.meta.url);
function loadBetterSqlite(): typeof import('better-sqlite3') {
  return requireHere('better-sqlite3') as typeof import('better-sqlite3');
}
function loadPg(): typeof import('pg') {
  return requireHere('pg') as typeof import('pg');
}
