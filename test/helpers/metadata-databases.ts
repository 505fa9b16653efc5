// The metadata databases every contract test runs on: an SQLite file in a temp directory, and a
// fresh database on the PostgreSQL server the test run started.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { tempDir } from './temp-dir.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

let created = 0;

export const DATABASE_KINDS: DatabaseKind[] = [
  {
    name: 'sqlite',
    async create() {
      const dir = await tempDir('stowage-db-');
      return { url: `sqlite:${join(dir, 'stowage.db')}`, drop: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async create() {
      const admin = process.env.STOWAGE_TEST_PG_URL;
      if (!admin) throw new Error('no PostgreSQL for the tests');
      const { default: pg } = await import('pg');
      const name = `t_${process.pid}_${++created}`;
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      await client.query(`create database ${name}`);
      await client.end();
      return {
        url: admin.replace(/\/[^/]*$/, `/${name}`),
        drop: async () => {
          const c = new pg.Client({ connectionString: admin });
          await c.connect();
          await c.query(`drop database if exists ${name} with (force)`);
          await c.end();
        },
      };
    },
  },
];

export async function openTestDatabase(kind: DatabaseKind): Promise<{ database: MetadataDatabase; drop(): Promise<void> }> {
  const created = await kind.create();
  const database = await MetadataDatabase.open(created.url, { fsync: false });
  return {
    database,
    async drop() {
      await database.close();
      await created.drop();
    },
  };
}
