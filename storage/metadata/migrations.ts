// Versioned schema migrations, run at start-up (Kysely's Migrator keeps the applied ones in
// kysely_migration and takes a lock, so two processes starting together apply each once).
// Append new migrations; never edit one that has shipped. Names sort in the order they run.
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './schema.js';

/** A name column: byte-wise order in both databases (the spec's lexical order of tags and names). */
function nameType(dialect: Dialect) {
  return dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
}

function idType(dialect: Dialect) {
  return dialect === 'postgres' ? 'bigserial' : 'integer';
}

/** Times in ms and sizes: 64-bit in PostgreSQL (read back as numbers, storage/metadata/database.ts). */
const BIG = 'bigint';

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('repositories')
          .addColumn('id', idType(dialect), (c) => c.primaryKey().notNull())
          .addColumn('name', nameType(dialect), (c) => c.notNull().unique())
          .addColumn('created_at', BIG, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('manifests')
          .addColumn('id', idType(dialect), (c) => c.primaryKey().notNull())
          .addColumn('repository_id', BIG, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('media_type', 'text', (c) => c.notNull())
          .addColumn('artifact_type', 'text')
          .addColumn('subject_digest', 'text')
          .addColumn('config_digest', 'text')
          .addColumn('size', BIG, (c) => c.notNull())
          .addColumn('total_size', BIG, (c) => c.notNull())
          .addColumn('created', 'text')
          .addColumn('platforms', 'text')
          .addColumn('annotations', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('pushed_at', BIG, (c) => c.notNull())
          .addColumn('pushed_by', 'text')
          .addColumn('last_pulled_at', BIG)
          .addColumn('pull_count', BIG, (c) => c.notNull().defaultTo(0))
          .addUniqueConstraint('manifests_repository_digest', ['repository_id', 'digest'])
          .execute();
        await db.schema.createIndex('manifests_digest').on('manifests').column('digest').execute();
        await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository_id', 'subject_digest']).execute();
        await db.schema
          .createTable('manifest_references')
          .addColumn('manifest_id', BIG, (c) => c.notNull().references('manifests.id').onDelete('cascade'))
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('size', BIG, (c) => c.notNull())
          .addPrimaryKeyConstraint('manifest_references_pk', ['manifest_id', 'digest'])
          .execute();
        await db.schema.createIndex('manifest_references_digest').on('manifest_references').column('digest').execute();
        await db.schema
          .createTable('tags')
          .addColumn('repository_id', BIG, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
          .addColumn('name', nameType(dialect), (c) => c.notNull())
          .addColumn('manifest_id', BIG, (c) => c.notNull().references('manifests.id').onDelete('cascade'))
          .addColumn('pushed_at', BIG, (c) => c.notNull())
          .addColumn('last_pulled_at', BIG)
          .addColumn('pull_count', BIG, (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('tags_pk', ['repository_id', 'name'])
          .execute();
        await db.schema.createIndex('tags_manifest').on('tags').column('manifest_id').execute();
        await db.schema
          .createTable('stowage_meta')
          .addColumn('key', 'text', (c) => c.primaryKey().notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
  };
}

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrate(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const all = migrations(dialect);
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(all) } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) throw new Error(`metadata database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The newest migration this version knows: a database past it was written by a newer stowage. */
export function latestMigration(dialect: Dialect): string {
  return Object.keys(migrations(dialect)).sort().at(-1)!;
}
