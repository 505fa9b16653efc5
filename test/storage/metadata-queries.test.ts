// The JSON API's queries (storage/metadata/metadata-queries.ts) and the repository totals the
// triggers of migration 0002 keep, on every database kind (SQLite and PostgreSQL). The totals are
// checked against a count made from scratch after every step of a run of pushes, tag moves,
// deletes, aborted pushes and collections.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { MetadataStore, type ManifestReference } from '../../storage/metadata/metadata-store.js';
import { MetadataQueries, REPOSITORY_SORT_KEYS, sortKeyOf, type RepositorySummary } from '../../storage/metadata/metadata-queries.js';
import { REPOSITORY_SORT_COLUMNS, migrate } from '../../storage/metadata/migrations.js';
import type { MetadataSchema } from '../../storage/metadata/schema.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

/** The totals of every repository, counted from the rows themselves. */
async function recount(db: Kysely<MetadataSchema>) {
  const { rows } = await sql<{ name: string; manifests: number; tags: number; size: number; last: number | null }>`
    select r.name,
      (select count(*) from manifests m where m.repository_id = r.id and m.state = 'ready') as manifests,
      (select count(*) from tags t where t.repository_id = r.id) as tags,
      (select coalesce(sum(m.size), 0) from manifests m where m.repository_id = r.id and m.state = 'ready')
        + (select coalesce(sum(b.size), 0) from (
            select distinct ref.digest, ref.size from manifest_references ref join manifests m on m.id = ref.manifest_id
            where m.repository_id = r.id and m.state = 'ready' and ref.kind = 'blob') b) as size
    from repositories r order by r.name`.execute(db);
  return rows.map((r) => ({ name: r.name, manifests: Number(r.manifests), tags: Number(r.tags), size: Number(r.size) }));
}

describe.each(DATABASE_KINDS)('metadata queries on $name', (kind) => {
  let store: MetadataStore;
  let queries: MetadataQueries;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    const opened = await openTestDatabase(kind);
    store = new MetadataStore(opened.database);
    queries = new MetadataQueries(store);
    drop = opened.drop;
  });
  afterEach(() => drop());

  async function push(
    repository: string,
    digest: string,
    options: { tag?: string; at?: number; blobs?: Array<[string, number]>; children?: string[]; size?: number; by?: string } = {},
  ) {
    const at = options.at ?? 1000;
    const references: ManifestReference[] = [
      ...(options.blobs ?? []).map(([b, size]) => ({ digest: b, kind: 'blob' as const, size })),
      ...(options.children ?? []).map((c) => ({ digest: c, kind: 'manifest' as const, size: 10 })),
    ];
    const begun = await store.beginManifest(
      repository,
      {
        digest,
        mediaType: IMAGE,
        size: options.size ?? 10,
        references,
        created: '2024-01-02T03:04:05Z',
        platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }],
        configDigest: options.blobs?.[0]?.[0],
      },
      at,
      options.by,
    );
    expect(await store.commitManifest(repository, begun.id, { tag: options.tag, at })).toBe(true);
  }

  async function totals() {
    const page = await queries.repositories();
    return page.items.map((r) => ({ name: r.name, manifests: r.manifests, tags: r.tags, size: r.size }));
  }

  it('keeps each repository size, counts and last push equal to a count from scratch', async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      [
        'push a',
        () =>
          push('a', d(1), {
            tag: 'v1',
            blobs: [
              [d(100), 1000],
              [d(101), 50],
            ],
            at: 1000,
          }),
      ],
      [
        'push a sharing a blob',
        () =>
          push('a', d(2), {
            tag: 'v2',
            blobs: [
              [d(100), 1000],
              [d(102), 7],
            ],
            at: 2000,
          }),
      ],
      ['push b sharing a blob', () => push('b', d(3), { tag: 'latest', blobs: [[d(100), 1000]], at: 1500 })],
      ['an index in a', () => push('a', d(4), { tag: 'multi', children: [d(1), d(2)], at: 2500 })],
      ['a second tag', () => store.setTag('a', 'stable', d(1), 3000)],
      ['a tag moved', () => store.setTag('a', 'v1', d(2), 3500)],
      ['a tag deleted', () => store.deleteTag('a', 'stable')],
      [
        'an aborted push',
        async () => {
          const begun = await store.beginManifest(
            'a',
            { digest: d(5), mediaType: IMAGE, size: 3, references: [{ digest: d(103), kind: 'blob', size: 99 }] },
            4000,
          );
          await store.abortManifest(begun.id);
        },
      ],
      [
        'a pending push',
        () => store.beginManifest('b', { digest: d(6), mediaType: IMAGE, size: 3, references: [{ digest: d(104), kind: 'blob', size: 99 }] }, 4000),
      ],
      ['a manifest deleted with its tags', () => store.deleteManifest('a', d(4))],
      [
        'a collection',
        () =>
          store
            .deleteTag('a', 'v2')
            .then(() => store.deleteTag('a', 'v1'))
            .then(() => store.deleteIfUnreachable('a', d(2), 10_000)),
      ],
      ['the last tag of b', () => store.deleteTag('b', 'latest')],
    ];
    for (const [what, step] of steps) {
      await step();
      expect(await totals(), what).toEqual(await recount(store.database.db));
    }
    const a = await queries.repository('a');
    // d(1) alone is left in a: 10 bytes of manifest, 1050 of blobs.
    expect(a).toEqual({ name: 'a', size: 1060, manifests: 1, tags: 0, lastPushedAt: 3500 });
    expect((await queries.repository('b'))?.lastPushedAt).toBe(1500);
  });

  it('pages repositories by name, filtered by prefix or by a part of the name', async () => {
    for (const name of ['team/app', 'team/api', 'team-x', 'teams', 'other/team_a', 'x']) await push(name, d(1), { tag: 'v1' });
    const names = async (page: Parameters<MetadataQueries['repositories']>[0], filter?: Parameters<MetadataQueries['repositories']>[1]) =>
      (await queries.repositories(page, filter)).items.map((r) => r.name);
    expect(await names({}, { prefix: 'team/' })).toEqual(['team/api', 'team/app']);
    expect(await names({}, { prefix: 'team' })).toEqual(['team-x', 'team/api', 'team/app', 'teams']);
    expect(await names({ n: 2, last: 'team-x' }, { prefix: 'team' })).toEqual(['team/api', 'team/app']);
    expect(await queries.repositories({ n: 1 }, { prefix: 'team/' })).toMatchObject({ more: true });
    expect(await names({}, { contains: 'eam_' })).toEqual(['other/team_a']);
    expect(await names({}, { contains: 'am/' })).toEqual(['team/api', 'team/app']);
    expect(await names({}, { contains: '%' })).toEqual([]);
    expect(await queries.repository('team')).toBeUndefined();
    expect((await queries.repository('teams'))?.name).toBe('teams');
  });

  it('pages repositories by every sort key in both orders: the keyset walk equals a full sort', async () => {
    // Sizes, tag counts and times with ties, so the name must break them; some never pulled.
    for (let i = 0; i < 13; i++) {
      const name = `r${(i * 7) % 13}/x${i % 3}`;
      await push(name, d(i + 1), { tag: 'v1', blobs: [[d(200 + (i % 4)), 100 * (i % 4)]], at: 1000 + 100 * (i % 5) });
      if (i % 2 === 0) await store.setTag(name, 'v2', d(i + 1), 1000 + 100 * (i % 5));
      if (i % 3 === 0) await store.recordPulls([{ repository: name, digest: d(i + 1), count: 1, at: 5000 + (i % 2) }]);
    }
    const all = (await queries.repositories()).items;
    expect(all).toHaveLength(13);
    for (const by of REPOSITORY_SORT_KEYS) {
      for (const descending of [false, true]) {
        const compare = (a: RepositorySummary, b: RepositorySummary) => {
          const ka = by === 'name' ? 0 : sortKeyOf(a, by);
          const kb = by === 'name' ? 0 : sortKeyOf(b, by);
          const order = ka !== kb ? ka - kb : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
          return descending ? -order : order;
        };
        const expected = [...all].sort(compare).map((r) => r.name);
        const walked: string[] = [];
        let after: { last?: string; lastKey?: number } = {};
        for (let pages = 0; pages < 10; pages++) {
          const page = await queries.repositories({ n: 4, ...after }, {}, { by, descending });
          walked.push(...page.items.map((r) => r.name));
          const last = page.items.at(-1)!;
          after = { last: last.name, lastKey: by === 'name' ? undefined : sortKeyOf(last, by) };
          if (!page.more) break;
        }
        expect(walked, `${by} ${descending ? 'desc' : 'asc'}`).toEqual(expected);
      }
    }
    // A filter narrows the sorted list as it does the list by name.
    const big = await queries.repositories({}, { prefix: 'r1' }, { by: 'size', descending: true });
    expect(big.items.map((r) => r.name)).toEqual(
      all
        .filter((r) => r.name.startsWith('r1'))
        .sort((a, b) => b.size - a.size || (a.name < b.name ? 1 : -1))
        .map((r) => r.name),
    );
  });

  it('starts a page in every order with one seek on its index (the keyset as the queries write it)', async () => {
    const db = store.database.db;
    for (let i = 0; i < 3000; i += 500) {
      await db
        .insertInto('repositories')
        .values(Array.from({ length: 500 }, (_, j) => ({ name: `n${(i + j) % 50}/r${i + j}`, created_at: 1, tag_count: (i + j) % 17 })))
        .execute();
    }
    await sql`analyze`.execute(db);
    const postgres = store.database.dialect === 'postgres';
    for (const [sort, column] of Object.entries(REPOSITORY_SORT_COLUMNS)) {
      for (const [op, direction] of [
        ['>', 'asc'],
        ['<', 'desc'],
      ]) {
        const query = `select name from repositories where (${column}, name) ${op} (5, 'n3/r100') order by ${column} ${direction}, name ${direction} limit 11`;
        const { rows } = await sql.raw<Record<string, string>>(`${postgres ? 'explain' : 'explain query plan'} ${query}`).execute(db);
        const plan = rows.map((r) => Object.values(r).join(' ')).join('\n');
        // SQLite: SEARCH ... USING INDEX x ((key,name)>(?,?)); PostgreSQL: Index Cond: (ROW(key, name) > ...).
        expect(plan, `${sort} ${direction}`).toContain(`repositories_by_${sort}`);
        expect(plan, `${sort} ${direction}`).toMatch(postgres ? /Index Cond: \(ROW\(/ : /SEARCH repositories USING (COVERING )?INDEX \S+ \(\(/);
      }
    }
  });

  it("keeps each repository's last pull, from pulls of manifests it holds", async () => {
    await push('a', d(1), { tag: 'v1' });
    await push('b', d(2), { tag: 'v1' });
    await store.recordPulls([
      { repository: 'a', digest: d(1), tag: 'v1', count: 2, at: 7000 },
      { repository: 'a', digest: d(1), count: 1, at: 6000 },
      // Not a manifest of b: no pull of b.
      { repository: 'b', digest: d(9), count: 1, at: 8000 },
    ]);
    expect((await queries.repository('a'))?.lastPulledAt).toBe(7000);
    expect((await queries.repository('b'))?.lastPulledAt).toBeUndefined();
    // An older batch does not move it back.
    await store.recordPulls([{ repository: 'a', digest: d(1), count: 1, at: 6500 }]);
    expect((await queries.repository('a'))?.lastPulledAt).toBe(7000);
  });

  it('filters tags by a part of their name, a page at a time', async () => {
    for (const tag of ['v1', 'v1.1', 'v2', 'latest', 'v1_rc', 'x%1']) await push('r', d(tag.length), { tag });
    const tags = async (contains: string, page = {}) => (await queries.tags('r', page, { contains }))?.items.map((t) => t.tag);
    expect(await tags('v1')).toEqual(['v1', 'v1.1', 'v1_rc']);
    expect(await tags('_')).toEqual(['v1_rc']);
    expect(await tags('%')).toEqual(['x%1']);
    expect(await tags('v1', { n: 1, last: 'v1' })).toEqual(['v1.1']);
    expect(await queries.tags('r', { n: 1 }, { contains: 'v1' })).toMatchObject({ more: true });
  });

  it('lists tags with what they point at and their pulls, one page at a time', async () => {
    await push('r', d(1), { tag: 'v1', blobs: [[d(100), 100]], at: 1000, by: 'alice' });
    await push('r', d(2), { tag: 'v2', blobs: [[d(101), 200]], at: 2000 });
    await store.setTag('r', 'latest', d(2), 2500);
    await store.recordPulls([
      { repository: 'r', digest: d(2), tag: 'latest', count: 4, at: 3000 },
      { repository: 'r', digest: d(2), count: 1, at: 3100 },
    ]);
    const first = await queries.tags('r', { n: 2 });
    expect(first?.more).toBe(true);
    expect(first?.items.map((t) => t.tag)).toEqual(['latest', 'v1']);
    expect(first?.items[0]).toEqual({
      tag: 'latest',
      digest: d(2),
      mediaType: IMAGE,
      size: 210,
      platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }],
      created: '2024-01-02T03:04:05Z',
      pushedAt: 2500,
      lastPulledAt: 3000,
      pullCount: 4,
    });
    expect(first?.items[1]).toMatchObject({ tag: 'v1', pushedBy: 'alice', pullCount: 0 });
    expect(first?.items[1].lastPulledAt).toBeUndefined();
    expect(await queries.tags('r', { n: 2, last: 'v1' })).toMatchObject({ items: [{ tag: 'v2' }], more: false });
    expect(await queries.tags('nope')).toBeUndefined();
  });

  it('finds a manifest by tag or digest with its references, tags and pulls', async () => {
    await push('r', d(1), {
      tag: 'v1',
      blobs: [
        [d(100), 100],
        [d(101), 5],
      ],
    });
    await store.setTag('r', 'stable', d(1), 1200);
    await store.recordPulls([{ repository: 'r', digest: d(1), tag: 'stable', count: 2, at: 5000 }]);
    const byTag = await queries.manifest('r', { tag: 'stable' });
    expect(byTag).toMatchObject({
      digest: d(1),
      manifestSize: 10,
      size: 115,
      configDigest: d(100),
      tags: ['stable', 'v1'],
      tag: { name: 'stable', pushedAt: 1200, lastPulledAt: 5000, pullCount: 2 },
      pullCount: 2,
      references: [
        { digest: d(100), kind: 'blob', size: 100 },
        { digest: d(101), kind: 'blob', size: 5 },
      ],
    });
    const byDigest = await queries.manifest('r', { digest: d(1) });
    expect(byDigest?.tag).toBeUndefined();
    expect(byDigest?.digest).toBe(d(1));
    expect(await queries.manifest('r', { tag: 'nope' })).toBeUndefined();
    expect(await queries.manifest('r', { digest: d(9) })).toBeUndefined();
    const pending = await store.beginManifest('r', { digest: d(7), mediaType: IMAGE, size: 1, references: [] }, 1);
    expect(pending.created).toBe(true);
    expect(await queries.manifest('r', { digest: d(7) })).toBeUndefined();
    expect([...(await queries.manifests('r', [d(1), d(7), d(9)])).keys()]).toEqual([d(1)]);
  });

  it('fills the totals of a database written before migration 0002', async () => {
    // Back to 0001, rows written as an earlier stowage wrote them, then the upgrade.
    const db = store.database.db as Kysely<unknown>;
    await migrate(db, store.database.dialect, '0001-initial');
    const older = new MetadataStore(store.database);
    const begun = await older.beginManifest(
      'r',
      { digest: d(1), mediaType: IMAGE, size: 10, references: [{ digest: d(100), kind: 'blob', size: 90 }] },
      700,
    );
    await older.commitManifest('r', begun.id, { tag: 'v1', at: 800 });
    await older.setTag('r', 'v2', d(1), 600);
    expect(await migrate(db, store.database.dialect)).toEqual(['0002-repository-totals', '0003-repository-listings', '0004-robots', '0005-audit']);
    expect(await queries.repository('r')).toEqual({ name: 'r', size: 100, manifests: 1, tags: 2, lastPushedAt: 800 });
    // And the triggers count from there on.
    await older.deleteTag('r', 'v2');
    expect(await queries.repository('r')).toMatchObject({ tags: 1 });
  });
});
