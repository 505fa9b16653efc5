// A fresh PostgreSQL database per caller on the run's test server (helpers/postgres-global-setup.ts),
// so test files and tests running at the same time never see each other's tables. Drop it when done
// (afterAll/afterEach); the server and everything in it go away at the end of the run anyway.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  /** postgres://postgres@127.0.0.1:PORT/NAME: the superuser on the new, empty database. */
  url: string;
  /** The database's name (test_ and random hex). */
  name: string;
  /** Drops the database, closing any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = inject('postgres');
  if (server === undefined) throw new Error('no PostgreSQL test server: vitest.config.ts must list test/helpers/postgres-global-setup.ts');
  if ('error' in server) throw new Error(`no PostgreSQL test server: ${server.error}`);
  const name = `test_${randomBytes(8).toString('hex')}`;
  // FILE_COPY (PostgreSQL 15+) copies the template's files instead of writing them through the WAL:
  // a third of the time, and with fsync off its checkpoints cost nothing.
  await adminQuery(server.url, `CREATE DATABASE "${name}"${server.version >= 15 ? ' STRATEGY FILE_COPY' : ''}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => adminQuery(server.url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

/** One statement on the maintenance database, on a connection of its own. */
async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
