// Registry-wide totals (storage/metadata/usage-queries.ts) on SQLite and PostgreSQL: counts and
// bytes stored once against bytes per repository, namespaces, and the estimate of what a
// collection deleting untagged manifests would free, checked on a registry built to hold each
// case (a tagged index's child, referrers, a digest held elsewhere, a pending push).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetadataStore, type ManifestReference } from '../../storage/metadata/metadata-store.js';
import { UsageQueries } from '../../storage/metadata/usage-queries.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

describe.each(DATABASE_KINDS)('usage queries on $name', (kind) => {
  let store: MetadataStore;
  let usage: UsageQueries;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    const opened = await openTestDatabase(kind);
    store = new MetadataStore(opened.database);
    usage = new UsageQueries(store);
    drop = opened.drop;
  });
  afterEach(() => drop());

  async function push(
    repository: string,
    digest: string,
    options: { tag?: string; size?: number; blobs?: Array<[string, number]>; children?: string[]; subject?: string; pending?: boolean } = {},
  ) {
    const references: ManifestReference[] = [
      ...(options.blobs ?? []).map(([b, size]) => ({ digest: b, kind: 'blob' as const, size })),
      ...(options.children ?? []).map((c) => ({ digest: c, kind: 'manifest' as const, size: 10 })),
    ];
    const begun = await store.beginManifest(
      repository,
      { digest, mediaType: IMAGE, size: options.size ?? 10, references, subject: options.subject },
      1000,
    );
    if (!options.pending) expect(await store.commitManifest(repository, begun.id, { tag: options.tag, at: 1000 })).toBe(true);
  }

  it('counts repositories, tags and manifests, and bytes stored once against bytes per repository', async () => {
    expect(await usage.totals()).toEqual({ repositories: 0, tags: 0, manifests: 0, storedBytes: 0, logicalBytes: 0 });
    await push('a', d(1), {
      tag: 'v1',
      size: 10,
      blobs: [
        [d(100), 1000],
        [d(101), 50],
      ],
    });
    await push('a', d(2), { tag: 'v2', size: 20, blobs: [[d(100), 1000]] });
    await store.setTag('a', 'latest', d(2), 1100);
    // b holds the same manifest and one blob of a's: stored once, counted in both repositories.
    await push('b', d(1), {
      tag: 'v1',
      size: 10,
      blobs: [
        [d(100), 1000],
        [d(101), 50],
      ],
    });
    await push('c', d(3), { size: 5, blobs: [[d(102), 7]], pending: true });
    expect(await usage.totals()).toEqual({
      repositories: 3,
      tags: 4,
      manifests: 3,
      storedBytes: 10 + 20 + 1000 + 50,
      logicalBytes: 10 + 20 + 1050 + (10 + 1050),
    });
  });

  it('lists namespaces with their repositories and sizes, by name or largest first', async () => {
    await push('team/app', d(1), { tag: 'v1', size: 100 });
    await push('team/web/ui', d(2), { tag: 'v1', size: 50 });
    await push('tools/lint', d(3), { tag: 'v1', size: 500 });
    await push('toplevel', d(4), { tag: 'v1', size: 9999 });
    await push('a/b', d(5), { tag: 'v1', size: 1 });
    expect(await usage.namespaces(10)).toEqual([
      { name: 'a', repositories: 1, size: 1 },
      { name: 'team', repositories: 2, size: 150 },
      { name: 'tools', repositories: 1, size: 500 },
    ]);
    expect(await usage.namespaces(2, 'size')).toEqual([
      { name: 'tools', repositories: 1, size: 500 },
      { name: 'team', repositories: 2, size: 150 },
    ]);
  });

  it('estimates what deleting untagged manifests would free, keeping what tags reach', async () => {
    // Kept: tagged, a tagged index's child, a referrer of a tagged image.
    await push('a', d(1), {
      tag: 'v1',
      size: 11,
      blobs: [
        [d(100), 1000],
        [d(101), 200],
      ],
    });
    await push('a', d(10), { size: 12, blobs: [[d(110), 3]] });
    await push('a', d(11), { tag: 'multi', size: 13, children: [d(10)] });
    await push('a', d(12), { size: 14, subject: d(1), blobs: [[d(112), 4]] });
    // Reclaimable: untagged, sharing one blob with a kept image; a referrer of it; an untagged
    // index and its child.
    await push('a', d(2), {
      size: 21,
      blobs: [
        [d(101), 200],
        [d(102), 300],
      ],
    });
    await push('a', d(3), { size: 22, subject: d(2), blobs: [[d(103), 5]] });
    await push('a', d(4), { size: 23, children: [d(5)] });
    await push('a', d(5), { size: 24, blobs: [[d(105), 6]] });
    // Reclaimable in b, but its digest is a tagged manifest of a: the row goes, the bytes stay.
    await push('b', d(1), {
      size: 11,
      blobs: [
        [d(100), 1000],
        [d(101), 200],
      ],
    });
    // Reclaimable, but its blob is named by a pending push: kept.
    await push('b', d(6), { size: 25, blobs: [[d(106), 7000]] });
    await push('c', d(7), { size: 26, blobs: [[d(106), 7000]], pending: true });

    expect(await usage.reclaimable()).toEqual({
      untaggedManifests: 6,
      untaggedBytes: 21 + 22 + 23 + 24 + 25,
      unreferencedBlobs: 3,
      unreferencedBytes: 300 + 5 + 6,
    });
    // Tagging the untagged index keeps its child too.
    await store.setTag('a', 'old', d(4), 2000);
    expect(await usage.reclaimable()).toMatchObject({ untaggedManifests: 4, unreferencedBlobs: 2, unreferencedBytes: 305 });
  });
});
