// Read-only questions about what the metadata database knows, for the JSON API (server/routes/
// api.ts) and what reads it (the web UI, `stowage ls`, `du`, `tags`). Each list is a page read
// through an index (repositories by name or by each sort key of migration 0003, tags' primary
// key), and a repository's size and counts are columns the triggers of migration 0002 keep, so a
// page costs the page, not the registry. Only ready manifests are shown, as every listing does.
// Registry-wide totals are storage/metadata/usage-queries.ts.
// Tests: test/storage/metadata-queries.test.ts (SQLite and PostgreSQL), test/api/metadata-api.test.ts.
import { sql, type Kysely } from 'kysely';
import type { MetadataSchema } from './schema.js';
import { REPOSITORY_SORT_COLUMNS } from './migrations.js';
import type { ManifestReference, MetadataStore, Page, PageRequest, Platform, ReferrerDescriptor } from './metadata-store.js';

export interface RepositorySummary {
  name: string;
  /** Bytes of its ready manifests and of the distinct blobs they reference. */
  size: number;
  manifests: number;
  tags: number;
  /** The latest push of a manifest or tag (ms); undefined when nothing was pushed. */
  lastPushedAt?: number;
  /** The latest pull of any of its manifests (ms); undefined when never pulled. */
  lastPulledAt?: number;
}

export interface RepositoryFilter {
  /** Only names starting with this. */
  prefix?: string;
  /** Only names containing this. */
  contains?: string;
}

/** What repositories can be listed by: the name, or a key with an index of its own (migration 0003). */
export type RepositorySortKey = 'name' | keyof typeof REPOSITORY_SORT_COLUMNS;
export const REPOSITORY_SORT_KEYS: readonly RepositorySortKey[] = ['name', ...(Object.keys(REPOSITORY_SORT_COLUMNS) as RepositorySortKey[])];

export interface RepositoryOrder {
  by: RepositorySortKey;
  descending?: boolean;
}

/**
 * A page of repositories in some order: after the entry whose name is last (and, for an order
 * other than by name, whose sort key is lastKey: the keyset is (key, name)).
 */
export interface RepositoryPageRequest extends PageRequest {
  lastKey?: number;
}

/** The value a repository is sorted by in order (its name's tie-breaker). */
export function sortKeyOf(r: RepositorySummary, by: Exclude<RepositorySortKey, 'name'>): number {
  switch (by) {
    case 'size':
      return r.size;
    case 'tags':
      return r.tags;
    case 'pushed':
      return r.lastPushedAt ?? 0;
    case 'pulled':
      return r.lastPulledAt ?? 0;
  }
}

/** What the database records about a manifest, and its pull statistics. */
export interface ManifestSummary {
  digest: string;
  mediaType: string;
  artifactType?: string;
  /** The manifest, its blobs and (for an index) its children's manifests. */
  size: number;
  platforms: Platform[];
  /** `created` from the image config, as written there. */
  created?: string;
  pushedAt: number;
  pushedBy?: string;
  lastPulledAt?: number;
  pullCount: number;
}

export interface TagSummary extends Omit<ManifestSummary, 'pushedAt' | 'lastPulledAt' | 'pullCount'> {
  tag: string;
  /** When the tag was last set. */
  pushedAt: number;
  /** Pulls through this tag while it pointed here. */
  lastPulledAt?: number;
  pullCount: number;
}

export interface ManifestRecord extends ManifestSummary {
  /** Bytes of the manifest itself. */
  manifestSize: number;
  configDigest?: string;
  subject?: string;
  annotations?: Record<string, string>;
  /** The blobs and child manifests it references, as recorded (unordered). */
  references: ManifestReference[];
  /** Tags pointing at it, in order; the first MAX_TAGS_SHOWN. */
  tags: string[];
  /** Set when asked by tag: that tag's own times and pulls. */
  tag?: { name: string; pushedAt: number; lastPulledAt?: number; pullCount: number };
}

/** Tags named in one manifest's record; a UI pages the rest through the tags list. */
export const MAX_TAGS_SHOWN = 100;

/** Bound on a substring filter, so a request cannot make the database compare megabytes per row. */
const MAX_FILTER_LENGTH = 256;
/** Above every character of a repository name: prefix + this bounds a prefix range. */
const AFTER_NAME_CHARACTERS = '\u007f';
/** Digests per IN list. */
const IN_BATCH = 500;

export class MetadataQueries {
  constructor(private readonly store: MetadataStore) {}

  private get db(): Kysely<MetadataSchema> {
    return this.store.database.db;
  }

  /**
   * One page of repositories with sizes and counts, by name or by another key (then by name
   * among equal keys), ascending unless order says otherwise.
   */
  async repositories(
    page: RepositoryPageRequest = {},
    filter: RepositoryFilter = {},
    order: RepositoryOrder = { by: 'name' },
  ): Promise<Page<RepositorySummary>> {
    const direction = order.descending ? 'desc' : 'asc';
    const after = sql.raw(order.descending ? '<' : '>');
    let query = this.db
      .selectFrom('repositories')
      .select(['name', 'manifest_count', 'manifest_bytes', 'blob_bytes', 'tag_count', 'last_pushed_at', 'last_pulled_at']);
    if (order.by === 'name') {
      query = query.orderBy('name', direction);
      if (page.last !== undefined) query = query.where(sql<boolean>`name ${after} ${page.last}`);
    } else {
      // The index of migration 0003 on (key, name): one seek, then the page.
      const key = sql.ref(REPOSITORY_SORT_COLUMNS[order.by]);
      query = query.orderBy(key, direction).orderBy('name', direction);
      if (page.last !== undefined) {
        if (page.lastKey === undefined) throw new Error('a page after a repository in key order needs its key');
        query = query.where(sql<boolean>`(${key}, name) ${after} (${page.lastKey}, ${page.last})`);
      }
    }
    if (filter.prefix) query = query.where('name', '>=', filter.prefix).where('name', '<', filter.prefix + AFTER_NAME_CHARACTERS);
    if (filter.contains) query = query.where(this.contains('name', filter.contains));
    if (page.n !== undefined) query = query.limit(page.n + 1);
    const rows = await query.execute();
    return pageOf(
      rows.map((r) => {
        const summary: RepositorySummary = {
          name: r.name,
          size: Number(r.manifest_bytes) + Number(r.blob_bytes),
          manifests: Number(r.manifest_count),
          tags: Number(r.tag_count),
        };
        if (r.last_pushed_at !== null) summary.lastPushedAt = Number(r.last_pushed_at);
        if (r.last_pulled_at !== null) summary.lastPulledAt = Number(r.last_pulled_at);
        return summary;
      }),
      page.n,
    );
  }

  /** How many repositories there are under a prefix: a range of the name index. */
  async countRepositories(prefix = ''): Promise<number> {
    let query = this.db.selectFrom('repositories').select(sql<number>`count(*)`.as('n'));
    if (prefix) query = query.where('name', '>=', prefix).where('name', '<', prefix + AFTER_NAME_CHARACTERS);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  /** Whether a ready manifest of the repository references the blob (its config or a layer). */
  async referencesBlob(repository: string, digest: string): Promise<boolean> {
    const repositoryId = await this.store.repositoryId(repository);
    if (repositoryId === undefined) return false;
    const row = await this.db
      .selectFrom('repository_blobs')
      .select('refs')
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Rows whose column contains needle: not LIKE, where "_" is a wildcard and common in names. */
  private contains(column: 'name' | 't.name', needle: string) {
    const bounded = needle.slice(0, MAX_FILTER_LENGTH);
    const ref = sql.ref(column);
    return this.store.database.dialect === 'postgres' ? sql<boolean>`strpos(${ref}, ${bounded}) > 0` : sql<boolean>`instr(${ref}, ${bounded}) > 0`;
  }

  /** One repository's summary; undefined when the database does not know it. */
  async repository(name: string): Promise<RepositorySummary | undefined> {
    const page = await this.repositories({ n: 1, last: undefined }, { prefix: name });
    return page.items[0]?.name === name ? page.items[0] : undefined;
  }

  /**
   * One page of a repository's tags in order, with what each points at, optionally only those
   * containing a substring; undefined for an unknown repository.
   */
  async tags(repository: string, page: PageRequest = {}, filter: { contains?: string } = {}): Promise<Page<TagSummary> | undefined> {
    const repositoryId = await this.store.repositoryId(repository);
    if (repositoryId === undefined) return undefined;
    let query = this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', 'm.id', 't.manifest_id')
      .select([
        't.name',
        // The tag's own times and pulls, under the names summaryOf reads.
        't.pushed_at',
        't.last_pulled_at',
        't.pull_count',
        'm.digest',
        'm.media_type',
        'm.artifact_type',
        'm.total_size',
        'm.platforms',
        'm.created',
        'm.pushed_by',
      ])
      .where('t.repository_id', '=', repositoryId)
      .orderBy('t.name');
    if (page.last !== undefined) query = query.where('t.name', '>', page.last);
    if (filter.contains) query = query.where(this.contains('t.name', filter.contains));
    if (page.n !== undefined) query = query.limit(page.n + 1);
    const rows = await query.execute();
    return pageOf(
      rows.map((r): TagSummary => ({ tag: r.name, ...summaryOf(r) })),
      page.n,
    );
  }

  /**
   * A ready manifest of the repository by digest, or the one a tag points at, with its references
   * and tags; undefined when there is none.
   */
  async manifest(repository: string, reference: { digest: string } | { tag: string }): Promise<ManifestRecord | undefined> {
    const repositoryId = await this.store.repositoryId(repository);
    if (repositoryId === undefined) return undefined;
    let tag: ManifestRecord['tag'];
    let manifestId: number;
    if ('tag' in reference) {
      const row = await this.db
        .selectFrom('tags')
        .select(['manifest_id', 'pushed_at', 'last_pulled_at', 'pull_count'])
        .where('repository_id', '=', repositoryId)
        .where('name', '=', reference.tag)
        .executeTakeFirst();
      if (!row) return undefined;
      manifestId = Number(row.manifest_id);
      tag = { name: reference.tag, pushedAt: Number(row.pushed_at), pullCount: Number(row.pull_count) };
      if (row.last_pulled_at !== null) tag.lastPulledAt = Number(row.last_pulled_at);
    } else {
      const row = await this.db
        .selectFrom('manifests')
        .select('id')
        .where('repository_id', '=', repositoryId)
        .where('digest', '=', reference.digest)
        .executeTakeFirst();
      if (!row) return undefined;
      manifestId = Number(row.id);
    }
    const m = await this.db.selectFrom('manifests').selectAll().where('id', '=', manifestId).where('state', '=', 'ready').executeTakeFirst();
    if (!m) return undefined;
    const references = await this.db
      .selectFrom('manifest_references')
      .select(['digest', 'kind', 'size'])
      .where('manifest_id', '=', manifestId)
      .orderBy('digest')
      .execute();
    const tags = await this.db
      .selectFrom('tags')
      .select('name')
      .where('manifest_id', '=', manifestId)
      .orderBy('name')
      .limit(MAX_TAGS_SHOWN)
      .execute();
    const record: ManifestRecord = {
      ...summaryOf(m),
      manifestSize: Number(m.size),
      references: references.map((r) => ({ digest: r.digest, kind: r.kind, size: Number(r.size) })),
      tags: tags.map((t) => t.name),
    };
    if (m.config_digest) record.configDigest = m.config_digest;
    if (m.subject_digest) record.subject = m.subject_digest;
    if (m.annotations) record.annotations = JSON.parse(m.annotations) as Record<string, string>;
    if (tag) record.tag = tag;
    return record;
  }

  /** Summaries of the repository's ready manifests among digests (an index's children), by digest. */
  async manifests(repository: string, digests: string[]): Promise<Map<string, ManifestSummary>> {
    const out = new Map<string, ManifestSummary>();
    const repositoryId = await this.store.repositoryId(repository);
    if (repositoryId === undefined) return out;
    const unique = [...new Set(digests)];
    for (let i = 0; i < unique.length; i += IN_BATCH) {
      const rows = await this.db
        .selectFrom('manifests')
        .selectAll()
        .where('repository_id', '=', repositoryId)
        .where('digest', 'in', unique.slice(i, i + IN_BATCH))
        .where('state', '=', 'ready')
        .execute();
      for (const row of rows) out.set(row.digest, summaryOf(row));
    }
    return out;
  }

  /** The ready manifests whose subject is digest. */
  referrers(repository: string, digest: string): Promise<ReferrerDescriptor[]> {
    return this.store.referrers(repository, digest);
  }
}

type ManifestRow = {
  digest: string;
  media_type: string;
  artifact_type: string | null;
  total_size: number;
  platforms: string | null;
  created: string | null;
  pushed_at: number;
  pushed_by: string | null;
  last_pulled_at: number | null;
  pull_count: number;
};

function summaryOf(m: ManifestRow): ManifestSummary {
  const summary: ManifestSummary = {
    digest: m.digest,
    mediaType: m.media_type,
    size: Number(m.total_size),
    platforms: parsePlatforms(m.platforms),
    pushedAt: Number(m.pushed_at),
    pullCount: Number(m.pull_count),
  };
  if (m.artifact_type) summary.artifactType = m.artifact_type;
  if (m.created) summary.created = m.created;
  if (m.pushed_by) summary.pushedBy = m.pushed_by;
  if (m.last_pulled_at !== null) summary.lastPulledAt = Number(m.last_pulled_at);
  return summary;
}

function parsePlatforms(json: string | null): Platform[] {
  return json ? (JSON.parse(json) as Platform[]) : [];
}

function pageOf<T>(items: T[], n: number | undefined): Page<T> {
  if (n === undefined || items.length <= n) return { items, more: false };
  return { items: items.slice(0, n), more: true };
}
