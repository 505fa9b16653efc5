// Registry-wide totals from the metadata database, for the JSON API's stats, namespaces and usage
// (server/routes/api-registry.ts): counts and bytes, namespaces with their sizes, and an estimate
// of what a collection that deletes untagged manifests would free. These are SQL aggregates over
// whole tables (the one place the API reads more than a page), each a single statement; a costly
// one is answered from memory for a while (storage/metadata/costly-aggregate.ts).
// Lists of repositories are storage/metadata/metadata-queries.ts.
// Tests: test/storage/usage-queries.test.ts (SQLite and PostgreSQL), test/api/ui-api.test.ts.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { MetadataSchema } from './schema.js';
import type { MetadataStore } from './metadata-store.js';
import { CostlyAggregate } from './costly-aggregate.js';

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
  private readonly totalsAggregate = this.aggregate(() => this.countTotals());
  private readonly reclaimableAggregate = this.aggregate(() => this.estimateReclaimable());
  private readonly namespaceAggregates = new Map<string, CostlyAggregate<NamespaceTotals[]>>();

  constructor(private readonly store: MetadataStore) {}

  totals(): Promise<RegistryTotals> {
    return this.totalsAggregate.get();
  }

  /**
   * Namespaces (first path segments with at least one repository under them), at most limit of
   * them, by name or largest first.
   */
  namespaces(limit: number, by: 'name' | 'size' = 'name'): Promise<NamespaceTotals[]> {
    const key = `${limit} ${by}`;
    let aggregate = this.namespaceAggregates.get(key);
    if (!aggregate) this.namespaceAggregates.set(key, (aggregate = this.aggregate(() => this.totalNamespaces(limit, by))));
    return aggregate.get();
  }

  /** See ReclaimableEstimate. */
  reclaimable(): Promise<ReclaimableEstimate> {
    return this.reclaimableAggregate.get();
  }

  private aggregate<T>(compute: () => Promise<T>): CostlyAggregate<T> {
    return new CostlyAggregate(compute, () => this.store.writeCount);
  }

  private get db(): Kysely<MetadataSchema> {
    return this.store.database.db;
  }

  /** The first path segment of a repository name, in this database's SQL, and whether there is one. */
  private namespaceOf(): { segment: RawBuilder<string>; nested: RawBuilder<boolean> } {
    const position = this.store.database.dialect === 'postgres' ? sql`strpos(name, '/')` : sql`instr(name, '/')`;
    return { segment: sql<string>`substr(name, 1, ${position} - 1)`, nested: sql<boolean>`${position} > 0` };
  }

  private async countTotals(): Promise<RegistryTotals> {
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

  private async totalNamespaces(limit: number, by: 'name' | 'size'): Promise<NamespaceTotals[]> {
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

  /**
   * One statement: the edges from a manifest to what it keeps (an
   * index's children, the referrers of a manifest), the closure of what tags reach over them,
   * then what is left and what only that references. Written with anti-joins and per-digest
   * counts read through the digest indexes, so it stays near linear in the rows on both databases.
   */
  private async estimateReclaimable(): Promise<ReclaimableEstimate> {
    const { rows } = await sql<{ manifests: number; manifest_bytes: number; blobs: number; blob_bytes: number }>`
      with recursive edges(parent, child) as materialized (
        select r.manifest_id, c.id from manifest_references r
          join manifests p on p.id = r.manifest_id
          join manifests c on c.repository_id = p.repository_id and c.digest = r.digest
          where r.kind = 'manifest'
        union all
        select p.id, c.id from manifests c
          join manifests p on p.repository_id = c.repository_id and p.digest = c.subject_digest
          where c.subject_digest is not null
      ),
      kept(id) as (
        select manifest_id from tags
        union
        select e.child from kept k join edges e on e.parent = k.id
      ),
      reclaimable as materialized (
        select m.id, m.digest, m.size from manifests m
          where m.state = 'ready' and not exists (select 1 from kept k where k.id = m.id)
      ),
      freed_manifests as (
        select c.digest, max(c.size) as size from reclaimable c group by c.digest
          having count(*) = (select count(*) from manifests o where o.digest = c.digest)
      ),
      reclaimable_blobs as (
        select r.digest, r.size from manifest_references r join reclaimable c on c.id = r.manifest_id where r.kind = 'blob'
      ),
      freed_blobs as (
        select b.digest, max(b.size) as size from reclaimable_blobs b group by b.digest
          having count(*) = (select count(*) from manifest_references o where o.digest = b.digest)
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
