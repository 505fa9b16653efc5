// The PostgreSQL harness: each createTestDatabase() is a real, empty database of its own on the run's
// server (127.0.0.1 only, fsync off), dropping it ends it, and a server's stop() leaves nothing behind.
// Without PostgreSQL these tests fail: there is no skipping.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startPostgres } from './postgres-server.js';

const databases: TestDatabase[] = [];
const clients: pg.Client[] = [];

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  // A server going away under an open connection is what one test does on purpose.
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => {})));
  await Promise.all(databases.splice(0).map((db) => db.drop()));
});

describe('createTestDatabase', () => {
  it('makes an empty database that takes tables and rows', async () => {
    const db = await database();
    const client = await connect(db.url);
    expect((await client.query('SELECT current_database() AS name')).rows).toEqual([{ name: db.name }]);
    expect((await client.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows).toEqual([{ n: 0 }]);
    await client.query('CREATE TABLE tags (name text PRIMARY KEY, digest text NOT NULL)');
    await client.query(`INSERT INTO tags VALUES ('latest', 'sha256:aa'), ('v1', 'sha256:bb')`);
    expect((await client.query('SELECT name, digest FROM tags ORDER BY name')).rows).toEqual([
      { name: 'latest', digest: 'sha256:aa' },
      { name: 'v1', digest: 'sha256:bb' },
    ]);
  });

  it('keeps two databases apart', async () => {
    const [a, b] = await Promise.all([database(), database()]);
    expect(a.name).not.toBe(b.name);
    const [ca, cb] = await Promise.all([connect(a.url), connect(b.url)]);
    await ca.query('CREATE TABLE tags (name text)');
    await ca.query(`INSERT INTO tags VALUES ('from-a')`);
    expect((await cb.query(`SELECT to_regclass('tags') AS t`)).rows).toEqual([{ t: null }]);
    await cb.query('CREATE TABLE tags (name text)');
    await cb.query(`INSERT INTO tags VALUES ('from-b')`);
    expect((await ca.query('SELECT name FROM tags')).rows).toEqual([{ name: 'from-a' }]);
    expect((await cb.query('SELECT name FROM tags')).rows).toEqual([{ name: 'from-b' }]);
  });

  it('drop() removes the database and the connections still open to it', async () => {
    const db = await database();
    const open = await connect(db.url);
    await db.drop();
    await expect(open.query('SELECT 1')).rejects.toThrow();
    await expect(connect(db.url)).rejects.toMatchObject({ code: '3D000' }); // invalid_catalog_name
    await db.drop();
  });

  it('runs on a server for tests: 127.0.0.1 only, fsync off', async () => {
    const db = await database();
    const client = await connect(db.url);
    expect(new URL(db.url).hostname).toBe('127.0.0.1');
    expect((await client.query('SHOW listen_addresses')).rows).toEqual([{ listen_addresses: '127.0.0.1' }]);
    expect((await client.query('SHOW fsync')).rows).toEqual([{ fsync: 'off' }]);
  });
});

describe('startPostgres', () => {
  it('stop() stops the server and removes its directory', async () => {
    const server = await startPostgres();
    let stopped = false;
    try {
      const client = await connect(server.url);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(existsSync(server.directory)).toBe(true);
      await server.stop();
      stopped = true;
      expect(existsSync(server.directory)).toBe(false);
      await expect(connect(server.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      if (!stopped) await server.stop();
    }
  });
});
