// The metadata store's contract, run on every database kind (SQLite and PostgreSQL).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { latestMigration } from '../../storage/metadata/migrations.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe.each(DATABASE_KINDS)('metadata store on $name', (kind) => {
  let store: MetadataStore;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    const opened = await openTestDatabase(kind);
    store = new MetadataStore(opened.database);
    drop = opened.drop;
  });
  afterEach(() => drop());

  async function push(
    repository: string,
    digest: string,
    options: { tag?: string; at?: number; children?: string[]; blobs?: string[]; subject?: string } = {},
  ) {
    const at = options.at ?? 1000;
    const references = [
      ...(options.blobs ?? []).map((b) => ({ digest: b, kind: 'blob' as const, size: 5 })),
      ...(options.children ?? []).map((c) => ({ digest: c, kind: 'manifest' as const, size: 10 })),
    ];
    const begun = await store.beginManifest(
      repository,
      { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, subject: options.subject, references },
      at,
    );
    expect(await store.commitManifest(repository, begun.id, { tag: options.tag, at })).toBe(true);
    return begun.id;
  }

  it('lists repositories and tags in byte order, one page at a time', async () => {
    for (const name of ['b', 'a/z', 'a', 'B', 'a-b']) await push(name, d(1), { tag: 'v1' });
    expect((await store.listRepositories()).items).toEqual(['B', 'a', 'a-b', 'a/z', 'b']);
    expect(await store.listRepositories({ n: 2 })).toEqual({ items: ['B', 'a'], more: true });
    expect(await store.listRepositories({ n: 2, last: 'a' })).toEqual({ items: ['a-b', 'a/z'], more: true });
    expect(await store.listRepositories({ n: 2, last: 'a/z' })).toEqual({ items: ['b'], more: false });
    for (const tag of ['v2', 'V1', 'latest', 'v10']) await push('a', d(2), { tag });
    expect((await store.listTags('a'))!.items).toEqual(['V1', 'latest', 'v1', 'v10', 'v2']);
    expect(await store.listTags('a', { n: 2, last: 'latest' })).toEqual({ items: ['v1', 'v10'], more: true });
    expect(await store.listTags('nope')).toBeUndefined();
  });

  it('does not list a pending manifest or its tag until the push commits', async () => {
    const begun = await store.beginManifest(
      'r',
      { digest: d(1), mediaType: 'm', size: 1, references: [{ digest: d(9), kind: 'blob', size: 1 }] },
      1000,
    );
    expect(begun.created).toBe(true);
    expect(await store.hasManifest('r', d(1))).toBe(false);
    expect(await store.isReferenced(d(9))).toBe(true);
    expect((await store.listTags('r'))!.items).toEqual([]);
    await store.abortManifest(begun.id);
    expect(await store.isReferenced(d(9))).toBe(false);
    expect(await store.commitManifest('r', begun.id, { tag: 'v1', at: 1000 })).toBe(false);
    expect((await store.listTags('r'))!.items).toEqual([]);
  });

  it('keeps what a tag, an index, a referrer chain, a pending push or a recent push reaches', async () => {
    await push('r', d(1), { blobs: [d(100)] });
    await push('r', d(2), { children: [d(1)], tag: 'latest' });
    await push('r', d(3), { subject: d(1) });
    expect(await store.deleteIfUnreachable('r', d(1), 5000)).toBe(false);
    expect(await store.deleteIfUnreachable('r', d(3), 5000)).toBe(false);
    await store.deleteTag('r', 'latest');
    expect(await store.deleteIfUnreachable('r', d(3), 500)).toBe(false); // pushed after the cutoff
    const pending = await store.beginManifest(
      'r',
      { digest: d(4), mediaType: 'm', size: 1, references: [{ digest: d(2), kind: 'manifest', size: 1 }] },
      1000,
    );
    expect(await store.deleteIfUnreachable('r', d(3), 5000)).toBe(false); // the pending index reaches it
    await store.abortManifest(pending.id);
    expect(await store.deleteIfUnreachable('r', d(3), 5000)).toBe(true);
    expect(await store.deleteIfUnreachable('r', d(2), 5000)).toBe(true);
    expect(await store.isReferenced(d(100))).toBe(true);
    expect(await store.deleteIfUnreachable('r', d(1), 5000)).toBe(true);
    expect(await store.isReferenced(d(100))).toBe(false);
  });

  it('answers referrers with their descriptors, filtered by artifact type', async () => {
    await push('r', d(1));
    const a = await store.beginManifest(
      'r',
      { digest: d(2), mediaType: 'm', size: 7, subject: d(1), artifactType: 'sig', annotations: { k: 'v' }, references: [] },
      1,
    );
    await store.commitManifest('r', a.id, { at: 1 });
    const b = await store.beginManifest('r', { digest: d(3), mediaType: 'm', size: 8, subject: d(1), artifactType: 'sbom', references: [] }, 1);
    await store.commitManifest('r', b.id, { at: 1 });
    expect(await store.referrers('r', d(1))).toEqual([
      { mediaType: 'm', digest: d(2), size: 7, artifactType: 'sig', annotations: { k: 'v' } },
      { mediaType: 'm', digest: d(3), size: 8, artifactType: 'sbom' },
    ]);
    expect((await store.referrers('r', d(1), 'sbom')).map((r) => r.digest)).toEqual([d(3)]);
  });

  it('counts pulls by manifest and tag, and starts a moved tag afresh', async () => {
    await push('r', d(1), { tag: 'v1' });
    await store.recordPulls([{ repository: 'r', digest: d(1), tag: 'v1', count: 3, at: 2000 }]);
    await store.recordPulls([{ repository: 'r', digest: d(1), count: 1, at: 1500 }]);
    const rows = await store.database.db.selectFrom('tags').select(['pull_count', 'last_pulled_at']).execute();
    expect(rows.map((r) => [Number(r.pull_count), Number(r.last_pulled_at)])).toEqual([[3, 2000]]);
    const m = await store.database.db.selectFrom('manifests').select(['pull_count', 'last_pulled_at']).executeTakeFirstOrThrow();
    expect([Number(m.pull_count), Number(m.last_pulled_at)]).toEqual([4, 2000]);
    await push('r', d(2), { tag: 'v1', at: 3000 });
    const moved = await store.database.db.selectFrom('tags').select(['pull_count', 'last_pulled_at']).executeTakeFirstOrThrow();
    expect([Number(moved.pull_count), moved.last_pulled_at]).toEqual([0, null]);
  });

  it('deletes a manifest with its tags, and a tag alone', async () => {
    await push('r', d(1), { tag: 'a' });
    await push('r', d(1), { tag: 'b' });
    await push('r', d(2), { tag: 'c' });
    await store.deleteTag('r', 'c');
    expect((await store.listTags('r'))!.items).toEqual(['a', 'b']);
    await store.deleteManifest('r', d(1));
    expect((await store.listTags('r'))!.items).toEqual([]);
    expect(await store.hasManifest('r', d(1))).toBe(false);
    expect(await store.hasManifest('r', d(2))).toBe(true);
  });

  it('applies its migrations once, and refuses a database a newer version migrated', async () => {
    const url = (store.database.location.dialect === 'sqlite' ? 'sqlite:' : '') + store.database.location.target;
    const again = await MetadataDatabase.open(url);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(again.db);
    const names = applied.rows.map((r) => r.name);
    expect(names[0]).toBe('0001-initial');
    expect(names.at(-1)).toBe(latestMigration(store.database.dialect));
    expect(new Set(names).size).toBe(names.length);
    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2030-01-01T00:00:00Z')`.execute(again.db);
    await again.close();
    await expect(MetadataDatabase.open(url)).rejects.toThrow(/9999-from-the-future|migration/);
  });
});
