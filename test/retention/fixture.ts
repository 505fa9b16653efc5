// One registry's worth of images of known ages for the retention tests: pushed through the API,
// then their push and pull times set in the metadata database (the test's clock: the planner
// reads those times, and `now` is the real one). The config below keeps, in team/**: the two
// most recently pushed v* tags, anything pulled within 30 days, latest, and (immutable) release-*.
import { expect } from 'vitest';
import type { TestRegistry } from '../helpers/test-registry.js';
import { EMPTY_CONFIG, blobOf, ociArtifact, type Blob, type Manifest } from '../helpers/content.js';
import { pushBlob, pushImage, pushIndex, pushManifest, type PushedImage } from '../helpers/images.js';
import { blobDataKey } from '../../storage/layout.js';
import { isNotFound } from '../../storage/errors.js';

export const DAY = 24 * 3_600_000;

export const RETENTION_CONFIG = {
  stowage: {
    gc: { grace: '0s' },
    immutable: [{ repositories: ['team/**'], tags: ['release-*'] }],
    retention: {
      policies: [
        {
          repositories: ['team/**'],
          keeptags: [{ patterns: ['^v[0-9]+'], mostrecentlypushedcount: 2 }, { patterns: ['.*'], pulledwithin: '720h' }, { patterns: ['^latest$'] }],
        },
      ],
    },
  },
};

export interface Seeded {
  v1: PushedImage;
  v2: PushedImage;
  v3: PushedImage;
  pulled: PushedImage;
  release: PushedImage;
  amd64: PushedImage;
  arm64: PushedImage;
  multi: Manifest;
  signature: Manifest;
  signatureBlob: Blob;
  untouched: PushedImage;
}

/**
 * What the seeded registry holds and how old each tag is (days), pulled-ago where pulled. Pushed
 * into storage directly (the stores the API writes through), so that it works with auth on.
 */
export async function seedRegistry(reg: TestRegistry): Promise<Seeded> {
  const app = 'team/app';
  const storage = reg.storage;
  const v1 = await pushImage(storage, app, 'v1', { seed: 101 });
  const v2 = await pushImage(storage, app, 'v2', { seed: 102 });
  const v3 = await pushImage(storage, app, 'v3', { seed: 103 });
  await pushManifest(storage, app, 'latest', v3.manifest);
  const pulled = await pushImage(storage, app, 'old-but-pulled', { seed: 104 });
  const release = await pushImage(storage, app, 'release-1', { seed: 105 });
  const amd64 = await pushImage(storage, app, 'multi-amd64', { seed: 106 });
  const arm64 = await pushImage(storage, app, 'multi-arm64', { seed: 107 });
  const multi = await pushIndex(storage, app, 'multi', [amd64.manifest, arm64.manifest]);
  // The children of the index lose their own tags: only the index reaches them.
  await storage.manifests.delete(app, 'multi-amd64');
  await storage.manifests.delete(app, 'multi-arm64');
  // A signature of v1 (a referrer, untagged).
  const signatureBlob = blobOf('signature of v1');
  await pushBlob(storage, app, signatureBlob);
  await pushBlob(storage, app, EMPTY_CONFIG);
  const signature = ociArtifact('application/vnd.example.signature', [signatureBlob], v1.manifest.descriptor);
  await pushManifest(storage, app, signature.digest, signature);
  // A repository no policy covers.
  const untouched = await pushImage(storage, 'other/app', 'v0', { seed: 108 });

  const now = Date.now();
  const db = reg.storage.metadata!.database.db;
  await db
    .updateTable('manifests')
    .set({ pushed_at: now - 90 * DAY })
    .execute();
  const ages: Record<string, number> = { v1: 50, v2: 40, v3: 30, latest: 30, 'old-but-pulled': 60, 'release-1': 80, multi: 45, v0: 100 };
  for (const [tag, days] of Object.entries(ages))
    await db
      .updateTable('tags')
      .set({ pushed_at: now - days * DAY })
      .where('name', '=', tag)
      .execute();
  await db
    .updateTable('tags')
    .set({ last_pulled_at: now - 2 * DAY })
    .where('name', '=', 'old-but-pulled')
    .execute();
  return { v1, v2, v3, pulled, release, amd64, arm64, multi, signature, signatureBlob, untouched };
}

export const DELETED_TAGS = ['multi', 'v1'];
export const KEPT_TAGS = ['latest', 'old-but-pulled', 'release-1', 'v2', 'v3'];

/** The manifests a run deletes, sorted. */
export function deletedManifests(s: Seeded): string[] {
  return [s.multi.digest, s.amd64.manifest.digest, s.arm64.manifest.digest, s.v1.manifest.digest, s.signature.digest].sort();
}

/** Parents go first: the index before its children, v1 before its signature. */
export function expectParentsFirst(s: Seeded, order: string[]): void {
  const at = (digest: string) => order.indexOf(digest);
  expect(at(s.multi.digest)).toBeLessThan(at(s.amd64.manifest.digest));
  expect(at(s.multi.digest)).toBeLessThan(at(s.arm64.manifest.digest));
  expect(at(s.v1.manifest.digest)).toBeLessThan(at(s.signature.digest));
}

/** The blobs only deleted manifests reference, with those manifests' own bytes. */
export function freedBlobs(s: Seeded): string[] {
  const images = [s.v1, s.amd64, s.arm64];
  return [
    ...images.flatMap((i) => [i.config.digest, ...i.layers.map((l) => l.digest), i.manifest.digest]),
    s.multi.digest,
    s.signature.digest,
    s.signatureBlob.digest,
    EMPTY_CONFIG.digest,
  ];
}

export async function blobStored(reg: TestRegistry, digest: string): Promise<boolean> {
  try {
    await reg.storage.driver.stat(blobDataKey(digest));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Every kept tag pulls whole: its manifest and every blob it names. */
export async function expectPullable(reg: TestRegistry, name: string, tag: string, image: PushedImage): Promise<void> {
  const manifest = await reg.request.get(`/v2/${name}/manifests/${tag}`).set('Accept', image.manifest.mediaType);
  expect(manifest.status, `pull of ${name}:${tag}`).toBe(200);
  for (const blob of [image.config, ...image.layers]) {
    expect((await reg.request.get(`/v2/${name}/blobs/${blob.digest}`)).status, `blob ${blob.digest} of ${name}:${tag}`).toBe(200);
  }
}
