// The metadata database's side of quotas (storage/quotas.ts): which repositories a set of globs
// covers, the deduplicated bytes of the blobs their ready manifests reference (repository_blobs,
// kept by the triggers of migration 0002, so deletes, GC, import and reindex all count), and
// which of a push's blobs that set already holds. Each is one or two statements whose cost
// follows the covered repositories' rows, never the whole registry's: names are read by ranges of
// the name index (a glob's literal prefix), blobs through repository_blobs' primary key.
// Tests: test/storage/quotas.test.ts (SQLite and PostgreSQL).
import { sql, type RawBuilder } from 'kysely';
import type { MetadataStore } from './metadata-store.js';

/** Above every character of the name grammar ([a-z0-9._/-]): the end of a prefix's range. */
const AFTER_NAME_CHARACTERS = '~';

export class QuotaQueries {
  constructor(private readonly store: MetadataStore) {}

  /**
   * The repositories whose names match one of the patterns, by name. Each glob's literal prefix
   * (before its first wildcard, without a trailing "/" since "a/**" matches "a") bounds a range
   * scan of the name index; the pattern decides within it.
   */
  async coveredRepositories(globs: string[], patterns: RegExp[]): Promise<Array<{ id: number; name: string }>> {
    const byName = new Map<string, number>();
    for (const glob of globs) {
      const prefix = literalPrefix(glob);
      let query = this.store.database.db.selectFrom('repositories').select(['id', 'name']);
      if (prefix) query = query.where('name', '>=', prefix).where('name', '<', prefix + AFTER_NAME_CHARACTERS);
      for (const row of await query.execute()) if (patterns.some((p) => p.test(row.name))) byName.set(row.name, Number(row.id));
    }
    return [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, id]) => ({ id, name }));
  }

  /** Ids of those repositories. */
  async coveredRepositoryIds(globs: string[], patterns: RegExp[]): Promise<number[]> {
    return (await this.coveredRepositories(globs, patterns)).map((r) => r.id);
  }

  /** Distinct blobs (by digest) the ready manifests of those repositories reference, in bytes. */
  async usedBytes(repositoryIds: number[]): Promise<number> {
    if (repositoryIds.length === 0) return 0;
    const { rows } = await sql<{ used: number }>`select coalesce(sum(size), 0) as used from (
        select max(size) as size from repository_blobs where repository_id in (${this.idList(repositoryIds)}) group by digest) b`.execute(
      this.store.database.db,
    );
    return Number(rows[0].used);
  }

  /** Of these digests, those a ready manifest of one of the repositories references already. */
  async countedDigests(repositoryIds: number[], digests: string[]): Promise<Set<string>> {
    if (repositoryIds.length === 0 || digests.length === 0) return new Set();
    const { rows } = await sql<{ digest: string }>`select distinct digest from repository_blobs
        where digest in (${this.textList(digests)}) and repository_id in (${this.idList(repositoryIds)})`.execute(this.store.database.db);
    return new Set(rows.map((r) => r.digest));
  }

  // Lists travel as one JSON parameter: a quota may cover more repositories than a statement
  // may have parameters (SQLite allows 32,766).
  private idList(ids: number[]): RawBuilder<unknown> {
    const json = JSON.stringify(ids);
    return this.store.database.dialect === 'postgres'
      ? sql`select (jsonb_array_elements_text(${json}::jsonb))::bigint`
      : sql`select value from json_each(${json})`;
  }

  private textList(values: string[]): RawBuilder<unknown> {
    const json = JSON.stringify(values);
    return this.store.database.dialect === 'postgres'
      ? sql`select jsonb_array_elements_text(${json}::jsonb)`
      : sql`select value from json_each(${json})`;
  }
}

/** The characters of a glob before its first wildcard, without a trailing "/". */
export function literalPrefix(glob: string): string {
  const wildcard = glob.search(/[*?]/);
  const literal = wildcard < 0 ? glob : glob.slice(0, wildcard);
  return literal.replace(/\/+$/, '');
}
