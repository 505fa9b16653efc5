// Registry-wide totals from the metadata database, for the JSON API's stats, namespaces and usage
// (server/routes/api-registry.ts): counts and bytes, namespaces with their sizes, and an estimate
// of what a collection that deletes untagged manifests would free. These are SQL aggregates over
// whole tables (the one place the API reads more than a page), each a single statement.
// Lists of repositories are storage/metadata/metadata-queries.ts.
// Tests: test/storage/usage-queries.test.ts (SQLite and PostgreSQL), test/api/ui-api.test.ts.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { MetadataSchema } from './schema.js';
import type { MetadataStore } from './metadata-store.js';

export interface RegistryTotals {
  repositories: number;
  tags: number;
  /** Ready manifests, counted in each repository that holds them. */
  manifests: number;
  /** Distinct blobs ready manifests reference plus distinct ready manifests: what is stored once. */
  storedBytes: number;
  /** The sum of repository sizes: what storing each repository apart would take. */
  logicalBytes: number;
}

/** The repositories under one first path segment ("team" for team/app and team/web). */
export interface NamespaceTotals {
  name: string;
  repositories: number;
  /** The sum of their sizes. */
  size: number;
}

/**
 * What a collection with deleteUntagged would free, as far as the database knows: the ready
 * manifests no tag reaches (directly, as an index's child, or as a referrer of what is reached)
 * and the blobs only those manifests reference. Blobs no manifest row names at all (uploads never
 * referenced, layers a deleted manifest left behind) are not in the database and not counted.
 */
export interface ReclaimableEstimate {
  untaggedManifests: number;
  /** Bytes of those manifests themselves (distinct, and held by no other manifest row). */
  untaggedBytes: number;
  unreferencedBlobs: number;
  unreferencedBytes: number;
}

export class UsageQueries {
  constructor(private readonly store: MetadataStore) {}

  private get db(): Kysely<MetadataSchema> {
    return this.store.database.db;
  }

  /** The first path segment of a repository name, in this database's SQL, and whether there is one. */
  private namespaceOf(): { segment: RawBuilder<string>; nested: RawBuilder<boolean> } {
    const position = this.store.database.dialect === 'postgres' ? sql`strpos(name, '/')` : sql`instr(name, '/')`;
    return { segment: sql<string>`substr(name, 1, ${position} - 1)`, nested: sql<boolean>`${position} > 0` };
  }

  async totals(): Promise<RegistryTotals> {
    const counts = await this.db
      .selectFrom('repositories')
      .select([
        sql<number>`count(*)`.as('repositories'),
        sql<number>`coalesce(sum(tag_count), 0)`.as('tags'),
        sql<number>`coalesce(sum(manifest_count), 0)`.as('manifests'),
        sql<number>`coalesce(sum(size), 0)`.as('logical'),
      ])
      .executeTakeFirstOrThrow();
    // A blob or manifest several repositories hold is stored once: each digest counts once.
    const { rows } = await sql<{ blobs: number; manifests: number }>`select
        (select coalesce(sum(size), 0) from (select max(size) as size from repository_blobs group by digest) b) as blobs,
        (select coalesce(sum(size), 0) from (select max(size) as size from manifests where state = 'ready' group by digest) m) as manifests`.execute(
      this.db,
    );
    return {
      repositories: Number(counts.repositories),
      tags: Number(counts.tags),
      manifests: Number(counts.manifests),
      storedBytes: Number(rows[0].blobs) + Number(rows[0].manifests),
      logicalBytes: Number(counts.logical),
    };
  }

  /**
   * Namespaces (first path segments with at least one repository under them), at most limit of
   * them, by name or largest first.
   */
  async namespaces(limit: number, by: 'name' | 'size' = 'name'): Promise<NamespaceTotals[]> {
    const { segment, nested } = this.namespaceOf();
    let query = this.db
      .selectFrom('repositories')
      .select([segment.as('namespace'), sql<number>`count(*)`.as('repositories'), sql<number>`sum(size)`.as('size')])
      .where(nested)
      .groupBy(sql`namespace`);
    query = by === 'size' ? query.orderBy(sql`size`, 'desc').orderBy(sql`namespace`) : query.orderBy(sql`namespace`);
    const rows = await query.limit(limit).execute();
    return rows.map((r) => ({ name: r.namespace, repositories: Number(r.repositories), size: Number(r.size) }));
  }

  /** See ReclaimableEstimate. One statement: the closure of what tags reach, then what is left. */
  async reclaimable(): Promise<ReclaimableEstimate> {
    const { rows } = await sql<{ manifests: number; manifest_bytes: number; blobs: number; blob_bytes: number }>`
      with recursive kept(id) as (
        select manifest_id from tags
        union
        select m.id from kept k
          join manifests p on p.id = k.id
          join manifests m on m.repository_id = p.repository_id and m.state = 'ready'
          where m.subject_digest = p.digest
            or m.digest in (select r.digest from manifest_references r where r.manifest_id = p.id and r.kind = 'manifest')
      ),
      reclaimable as (
        select id, digest, size from manifests where state = 'ready' and id not in (select id from kept)
      ),
      freed_manifests as (
        select digest, max(size) as size from reclaimable c
          where not exists (select 1 from manifests o where o.digest = c.digest and o.id not in (select id from reclaimable))
          group by digest
      ),
      freed_blobs as (
        select r.digest, max(r.size) as size from manifest_references r
          where r.kind = 'blob' and r.manifest_id in (select id from reclaimable)
            and not exists (
              select 1 from manifest_references o where o.digest = r.digest and o.manifest_id not in (select id from reclaimable))
          group by r.digest
      )
      select
        (select count(*) from reclaimable) as manifests,
        (select coalesce(sum(size), 0) from freed_manifests) as manifest_bytes,
        (select count(*) from freed_blobs) as blobs,
        (select coalesce(sum(size), 0) from freed_blobs) as blob_bytes`.execute(this.db);
    const row = rows[0];
    return {
      untaggedManifests: Number(row.manifests),
      untaggedBytes: Number(row.manifest_bytes),
      unreferencedBlobs: Number(row.blobs),
      unreferencedBytes: Number(row.blob_bytes),
    };
  }
}
