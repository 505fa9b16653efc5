// The metadata databases every contract test runs on: an SQLite file in a temp directory, and a
// fresh database on the PostgreSQL server the test run started.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { tempDir } from './temp-dir.js';
import { createTestDatabase } from './postgres.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

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
    create: () => createTestDatabase(),
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
