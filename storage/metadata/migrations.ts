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
    '0002-repository-totals': {
      async up(db: Kysely<unknown>) {
        // What a page of repositories shows (size, tag and manifest counts, last push), kept up to
        // date by triggers so that listing costs the page, whatever writes the rows (pushes,
        // import, reindex, GC). A blob counts once per repository however many manifests share it.
        for (const column of ['manifest_count', 'manifest_bytes', 'blob_bytes', 'tag_count']) {
          await db.schema
            .alterTable('repositories')
            .addColumn(column, BIG, (c) => c.notNull().defaultTo(0))
            .execute();
        }
        await db.schema.alterTable('repositories').addColumn('last_pushed_at', BIG).execute();
        await db.schema
          .createTable('repository_blobs')
          .addColumn('repository_id', BIG, (c) => c.notNull().references('repositories.id').onDelete('cascade'))
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('size', BIG, (c) => c.notNull())
          .addColumn('refs', BIG, (c) => c.notNull())
          .addPrimaryKeyConstraint('repository_blobs_pk', ['repository_id', 'digest'])
          .execute();
        // What the database holds already, before the triggers take over.
        await sql`insert into repository_blobs (repository_id, digest, size, refs)
          select m.repository_id, r.digest, max(r.size), count(*) from manifest_references r
            join manifests m on m.id = r.manifest_id
            where m.state = 'ready' and r.kind = 'blob'
            group by m.repository_id, r.digest`.execute(db);
        await sql`update repositories set
          manifest_count = (select count(*) from manifests m where m.repository_id = repositories.id and m.state = 'ready'),
          manifest_bytes = (select coalesce(sum(m.size), 0) from manifests m where m.repository_id = repositories.id and m.state = 'ready'),
          blob_bytes = (select coalesce(sum(b.size), 0) from repository_blobs b where b.repository_id = repositories.id),
          tag_count = (select count(*) from tags t where t.repository_id = repositories.id),
          last_pushed_at = (select max(pushes.at) from (
            select m.pushed_at as at from manifests m where m.repository_id = repositories.id and m.state = 'ready'
            union all
            select t.pushed_at from tags t where t.repository_id = repositories.id) pushes)`.execute(db);
        for (const statement of dialect === 'postgres' ? POSTGRES_TOTALS_TRIGGERS : SQLITE_TOTALS_TRIGGERS) await sql.raw(statement).execute(db);
      },
      // Back to 0001 (the upgrade test goes down and up again; an older stowage ignores the extras anyway).
      async down(db: Kysely<unknown>) {
        if (dialect === 'postgres') {
          for (const name of ['manifest_counted', 'manifest_uncounted', 'reference_added', 'blob_changed', 'tag_changed']) {
            await sql.raw(`drop function repository_totals_${name} cascade`).execute(db);
          }
        } else {
          for (const statement of SQLITE_TOTALS_TRIGGERS) {
            await sql.raw(`drop trigger ${/^create trigger (\w+)/.exec(statement)![1]}`).execute(db);
          }
        }
        await db.schema.dropTable('repository_blobs').execute();
        for (const column of ['manifest_count', 'manifest_bytes', 'blob_bytes', 'tag_count', 'last_pushed_at']) {
          await db.schema.alterTable('repositories').dropColumn(column).execute();
        }
      },
    },
    '0003-repository-listings': {
      async up(db: Kysely<unknown>) {
        // The last pull of any of the repository's manifests, written with the pull counts
        // (MetadataStore.recordPulls), so that repositories sort by it.
        await db.schema.alterTable('repositories').addColumn('last_pulled_at', BIG).execute();
        await sql`update repositories set last_pulled_at = (
          select max(m.last_pulled_at) from manifests m where m.repository_id = repositories.id)`.execute(db);
        // One index per sort of the repositories list (MetadataQueries.repositories), on (key,
        // name), so a page in any order starts with one seek on its keyset. Keys that are not a
        // column are generated columns: both databases seek on a row value (key, name) > (?, ?)
        // over columns, and SQLite not over an expression index.
        const generated = dialect === 'postgres' ? 'stored' : 'virtual';
        for (const [column, expression] of Object.entries(GENERATED_SORT_COLUMNS)) {
          await sql.raw(`alter table repositories add column ${column} ${BIG} generated always as (${expression}) ${generated}`).execute(db);
        }
        for (const [sort, column] of Object.entries(REPOSITORY_SORT_COLUMNS)) {
          await db.schema.createIndex(`repositories_by_${sort}`).on('repositories').columns([column, 'name']).execute();
        }
        // Distinct blobs with their sizes, read in digest order without a sort (the registry's
        // stored bytes, /api/v1/stats).
        await db.schema.createIndex('repository_blobs_digest').on('repository_blobs').columns(['digest', 'size']).execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropIndex('repository_blobs_digest').execute();
        for (const sort of Object.keys(REPOSITORY_SORT_COLUMNS)) await db.schema.dropIndex(`repositories_by_${sort}`).execute();
        for (const column of [...Object.keys(GENERATED_SORT_COLUMNS), 'last_pulled_at']) {
          await db.schema.alterTable('repositories').dropColumn(column).execute();
        }
      },
    },
    '0004-robots': {
      async up(db: Kysely<unknown>) {
        // Robot accounts (storage/metadata/robots.ts): credentials for CI. Only the secret's hash is
        // kept; grants are JSON arrays (repository globs, actions); times in ms, null for never.
        await db.schema
          .createTable('robots')
          .addColumn('name', nameType(dialect), (c) => c.primaryKey().notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('repositories', 'text', (c) => c.notNull())
          .addColumn('actions', 'text', (c) => c.notNull())
          .addColumn('created_at', BIG, (c) => c.notNull())
          .addColumn('expires_at', BIG)
          .addColumn('last_used_at', BIG)
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('robots').execute();
      },
    },
    '0005-audit': {
      async up(db: Kysely<unknown>) {
        // The audit log (storage/metadata/audit-events.ts): one row per recorded event, newest
        // read first by id; an index per filter of GET /admin/audit and `stowage audit`, and one
        // on the time for `since` and for pruning past stowage.audit.maxage. The user is `actor`:
        // `user` is a reserved word in PostgreSQL (a bare `select user` answers the session's).
        await db.schema
          .createTable('audit_events')
          .addColumn('id', idType(dialect), (c) => c.primaryKey().notNull())
          .addColumn('at', BIG, (c) => c.notNull())
          .addColumn('actor', 'text')
          .addColumn('actor_kind', 'text', (c) => c.notNull())
          .addColumn('client', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('repository', nameType(dialect))
          .addColumn('reference', 'text')
          .addColumn('digest', 'text')
          .addColumn('result', 'text', (c) => c.notNull())
          .addColumn('status', 'integer')
          .addColumn('detail', 'text')
          .addColumn('request_id', 'text')
          .execute();
        await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
        await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'id']).execute();
        await db.schema.createIndex('audit_events_repository').on('audit_events').columns(['repository', 'id']).execute();
        await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'id']).execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('audit_events').execute();
      },
    },
  };
}

/** The generated columns of 0003: a repository never pushed or pulled sorts as time 0. */
const GENERATED_SORT_COLUMNS = {
  size: 'manifest_bytes + blob_bytes',
  last_pushed_key: 'coalesce(last_pushed_at, 0)',
  last_pulled_key: 'coalesce(last_pulled_at, 0)',
};

/** The sorts of the repositories list other than by name, and the column each has an index on (0003). */
export const REPOSITORY_SORT_COLUMNS = {
  size: 'size',
  tags: 'tag_count',
  pushed: 'last_pushed_key',
  pulled: 'last_pulled_key',
} as const;

// The triggers of 0002. A manifest counts while it is ready: from the update that makes it ready
// (or an insert as ready) until it is deleted; its blob references count with it (references are
// only ever deleted with their manifest, by cascade, after the BEFORE DELETE trigger has uncounted
// them). repository_blobs keeps one row per (repository, blob) with the number of ready manifests
// naming it; its own triggers keep blob_bytes. Tags count from insert to delete; a tag written
// again moves last_pushed_at.
const SQLITE_TOTALS_TRIGGERS = [
  `create trigger repository_totals_manifest_inserted after insert on manifests when new.state = 'ready'
   begin
     update repositories set manifest_count = manifest_count + 1, manifest_bytes = manifest_bytes + new.size,
       last_pushed_at = max(coalesce(last_pushed_at, 0), new.pushed_at) where id = new.repository_id;
   end`,
  `create trigger repository_totals_manifest_ready after update of state on manifests
   when old.state <> 'ready' and new.state = 'ready'
   begin
     update repositories set manifest_count = manifest_count + 1, manifest_bytes = manifest_bytes + new.size,
       last_pushed_at = max(coalesce(last_pushed_at, 0), new.pushed_at) where id = new.repository_id;
     insert into repository_blobs (repository_id, digest, size, refs)
       select new.repository_id, r.digest, r.size, 1 from manifest_references r where r.manifest_id = new.id and r.kind = 'blob' and true
       on conflict (repository_id, digest) do update set refs = repository_blobs.refs + 1;
   end`,
  `create trigger repository_totals_reference_added after insert on manifest_references
   when new.kind = 'blob' and (select state from manifests where id = new.manifest_id) = 'ready'
   begin
     insert into repository_blobs (repository_id, digest, size, refs)
       select m.repository_id, new.digest, new.size, 1 from manifests m where m.id = new.manifest_id and true
       on conflict (repository_id, digest) do update set refs = repository_blobs.refs + 1;
   end`,
  `create trigger repository_totals_manifest_deleted before delete on manifests when old.state = 'ready'
   begin
     update repositories set manifest_count = manifest_count - 1, manifest_bytes = manifest_bytes - old.size where id = old.repository_id;
     update repository_blobs set refs = refs - 1 where repository_id = old.repository_id
       and digest in (select r.digest from manifest_references r where r.manifest_id = old.id and r.kind = 'blob');
     delete from repository_blobs where repository_id = old.repository_id and refs <= 0
       and digest in (select r.digest from manifest_references r where r.manifest_id = old.id and r.kind = 'blob');
   end`,
  `create trigger repository_totals_blob_added after insert on repository_blobs
   begin
     update repositories set blob_bytes = blob_bytes + new.size where id = new.repository_id;
   end`,
  `create trigger repository_totals_blob_removed after delete on repository_blobs
   begin
     update repositories set blob_bytes = blob_bytes - old.size where id = old.repository_id;
   end`,
  `create trigger repository_totals_tag_added after insert on tags
   begin
     update repositories set tag_count = tag_count + 1, last_pushed_at = max(coalesce(last_pushed_at, 0), new.pushed_at)
       where id = new.repository_id;
   end`,
  `create trigger repository_totals_tag_moved after update of pushed_at on tags
   begin
     update repositories set last_pushed_at = max(coalesce(last_pushed_at, 0), new.pushed_at) where id = new.repository_id;
   end`,
  `create trigger repository_totals_tag_deleted after delete on tags
   begin
     update repositories set tag_count = tag_count - 1 where id = old.repository_id;
   end`,
];

const POSTGRES_TOTALS_TRIGGERS = [
  `create function repository_totals_manifest_counted() returns trigger language plpgsql as $$
   begin
     update repositories set manifest_count = manifest_count + 1, manifest_bytes = manifest_bytes + new.size,
       last_pushed_at = greatest(last_pushed_at, new.pushed_at) where id = new.repository_id;
     insert into repository_blobs (repository_id, digest, size, refs)
       select new.repository_id, r.digest, r.size, 1 from manifest_references r where r.manifest_id = new.id and r.kind = 'blob'
       on conflict (repository_id, digest) do update set refs = repository_blobs.refs + 1;
     return null;
   end $$`,
  `create trigger repository_totals_manifest_inserted after insert on manifests
   for each row when (new.state = 'ready') execute function repository_totals_manifest_counted()`,
  `create trigger repository_totals_manifest_ready after update of state on manifests
   for each row when (old.state <> 'ready' and new.state = 'ready') execute function repository_totals_manifest_counted()`,
  `create function repository_totals_reference_added() returns trigger language plpgsql as $$
   begin
     insert into repository_blobs (repository_id, digest, size, refs)
       select m.repository_id, new.digest, new.size, 1 from manifests m where m.id = new.manifest_id and m.state = 'ready'
       on conflict (repository_id, digest) do update set refs = repository_blobs.refs + 1;
     return null;
   end $$`,
  `create trigger repository_totals_reference_added after insert on manifest_references
   for each row when (new.kind = 'blob') execute function repository_totals_reference_added()`,
  `create function repository_totals_manifest_uncounted() returns trigger language plpgsql as $$
   begin
     update repositories set manifest_count = manifest_count - 1, manifest_bytes = manifest_bytes - old.size where id = old.repository_id;
     update repository_blobs set refs = refs - 1 where repository_id = old.repository_id
       and digest in (select r.digest from manifest_references r where r.manifest_id = old.id and r.kind = 'blob');
     delete from repository_blobs where repository_id = old.repository_id and refs <= 0
       and digest in (select r.digest from manifest_references r where r.manifest_id = old.id and r.kind = 'blob');
     return old;
   end $$`,
  `create trigger repository_totals_manifest_deleted before delete on manifests
   for each row when (old.state = 'ready') execute function repository_totals_manifest_uncounted()`,
  `create function repository_totals_blob_changed() returns trigger language plpgsql as $$
   begin
     if tg_op = 'INSERT' then
       update repositories set blob_bytes = blob_bytes + new.size where id = new.repository_id;
     else
       update repositories set blob_bytes = blob_bytes - old.size where id = old.repository_id;
     end if;
     return null;
   end $$`,
  `create trigger repository_totals_blob_changed after insert or delete on repository_blobs
   for each row execute function repository_totals_blob_changed()`,
  `create function repository_totals_tag_changed() returns trigger language plpgsql as $$
   begin
     if tg_op = 'INSERT' then
       update repositories set tag_count = tag_count + 1, last_pushed_at = greatest(last_pushed_at, new.pushed_at)
         where id = new.repository_id;
     elsif tg_op = 'UPDATE' then
       update repositories set last_pushed_at = greatest(last_pushed_at, new.pushed_at) where id = new.repository_id;
     else
       update repositories set tag_count = tag_count - 1 where id = old.repository_id;
     end if;
     return null;
   end $$`,
  `create trigger repository_totals_tag_changed after insert or update of pushed_at or delete on tags
   for each row execute function repository_totals_tag_changed()`,
];

/** Brings the schema up to date (or up to target, for tests of a migration); throws with the failing migration's name. */
export async function migrate(db: Kysely<unknown>, dialect: Dialect, target?: string): Promise<string[]> {
  const all = migrations(dialect);
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(all) } });
  const { error, results } = target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  const failed = results?.find((r) => r.status === 'Error');
  if (error) throw new Error(`metadata database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The newest migration this version knows: a database past it was written by a newer stowage. */
export function latestMigration(dialect: Dialect): string {
  return Object.keys(migrations(dialect)).sort().at(-1)!;
}
