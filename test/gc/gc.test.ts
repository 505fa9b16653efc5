// Garbage collection over every driver: orphans go, everything a tag (or any manifest) reaches
// stays and still pulls, recent writes are spared, and pushes running during a collection survive.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { ociIndex, randomBlob } from '../helpers/content.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { outlastClockMargin } from '../helpers/storage-clock.js';

describe.each(DRIVERS)('garbage collection on $name', (factory) => {
  const registry = useTestRegistry(factory);

  async function pullsBack(name: string, reference: string, blobs: { digest: string; bytes: Buffer }[]) {
    const reg = registry();
    const manifest = await reg.request.get(`/v2/${name}/manifests/${reference}`);
    expect(manifest.status).toBe(200);
    for (const blob of blobs) {
      const res = await asBytes(reg.request.get(`/v2/${name}/blobs/${blob.digest}`));
      expect(res.status).toBe(200);
      expect(Buffer.compare(res.body as Buffer, blob.bytes)).toBe(0);
    }
  }

  it('deletes unreferenced blobs and keeps every blob a manifest references', async () => {
    const reg = registry();
    const kept = await pushImage(reg, 'team/app', 'v1', { seed: 1 });
    const orphan = randomBlob(4096, 99);
    await pushBlob(reg, 'team/app', orphan);

    await outlastClockMargin(reg.storage.driver);
    const report = await collectGarbage(reg.storage, { gracePeriodMs: 0 });

    expect(report.blobsDeleted).toEqual([orphan.digest]);
    expect(report.bytesFreed).toBe(orphan.size);
    await pullsBack('team/app', 'v1', [kept.config, ...kept.layers]);
    expect((await reg.request.get(`/v2/team/app/blobs/${orphan.digest}`)).status).toBe(404);
  });

  it('keeps blobs written within the grace period', async () => {
    const reg = registry();
    const orphan = randomBlob(1024, 7);
    await pushBlob(reg, 'team/app', orphan);
    const report = await collectGarbage(reg.storage, { gracePeriodMs: 60 * 60 * 1000 });
    expect(report.blobsDeleted).toEqual([]);
    expect((await reg.request.head(`/v2/team/app/blobs/${orphan.digest}`)).status).toBe(200);
  });

  it('deletes nothing on a dry run but reports what it would delete', async () => {
    const reg = registry();
    const orphan = randomBlob(1024, 8);
    await pushBlob(reg, 'team/app', orphan);
    await outlastClockMargin(reg.storage.driver);
    const report = await collectGarbage(reg.storage, { gracePeriodMs: 0, dryRun: true });
    expect(report.blobsDeleted).toEqual([orphan.digest]);
    expect((await reg.request.head(`/v2/team/app/blobs/${orphan.digest}`)).status).toBe(200);
  });

  it('frees the layers of a deleted manifest but not the layers another image shares', async () => {
    const reg = registry();
    const a = await pushImage(reg, 'one', 'latest', { seed: 3 });
    const b = await pushImage(reg, 'two', 'latest', { seed: 4 });
    expect((await reg.request.delete(`/v2/two/manifests/${b.manifest.digest}`)).status).toBe(202);

    await outlastClockMargin(reg.storage.driver);
    const report = await collectGarbage(reg.storage, { gracePeriodMs: 0 });

    expect(report.blobsDeleted.sort()).toEqual([b.config.digest, b.layers[0].digest, b.manifest.digest].sort());
    await pullsBack('one', 'latest', [a.config, ...a.layers]);
  });

  it('with deleteUntagged removes untagged manifests but keeps the children of a tagged index', async () => {
    const reg = registry();
    const child = await pushImage(reg, 'multi', 'child-tmp', { seed: 5 });
    const index = ociIndex([child.manifest]);
    await pushManifest(reg, 'multi', 'latest', index);
    expect((await reg.request.delete('/v2/multi/manifests/child-tmp')).status).toBe(202);
    const untagged = await pushImage(reg, 'multi', 'gone', { seed: 6 });
    expect((await reg.request.delete('/v2/multi/manifests/gone')).status).toBe(202);

    await outlastClockMargin(reg.storage.driver);
    const report = await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });

    expect(report.manifestsDeleted).toEqual([`multi@${untagged.manifest.digest}`]);
    expect(report.blobsDeleted).toContain(untagged.layers[0].digest);
    await pullsBack('multi', child.manifest.digest, [child.config, ...child.layers]);
    expect((await reg.request.get(`/v2/multi/manifests/${untagged.manifest.digest}`)).status).toBe(404);
  });

  /** A push that has recorded its manifest (pending, before it retains) and written nothing else a storage walk would find. */
  function beginPush(reg: ReturnType<typeof registry>, layer: { digest: string; size: number }) {
    return reg.storage.metadata!.beginManifest(
      'team/pending',
      {
        digest: `sha256:${'ab'.repeat(32)}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 10,
        references: [{ digest: layer.digest, kind: 'blob', size: layer.size }],
      },
      Date.now(),
    );
  }

  it('marks what a pending push recorded in the database, and frees it once the push is abandoned', async () => {
    const reg = registry();
    const layer = randomBlob(2048, 41);
    await pushBlob(reg, 'team/pending', layer);
    const begun = await beginPush(reg, layer);
    await outlastClockMargin(reg.storage.driver);
    const kept = await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });
    // Marked: never even set aside.
    expect([kept.blobsDeleted, kept.keptInUse]).toEqual([[], 0]);
    expect((await reg.request.head(`/v2/team/pending/blobs/${layer.digest}`)).status).toBe(200);

    await reg.storage.metadata!.abortManifest(begun.id);
    const freed = await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });
    expect(freed.blobsDeleted).toEqual([layer.digest]);
  });

  it('keeps a blob a push records in the database after the mark, while the blob is set aside', async () => {
    const reg = registry();
    const layer = randomBlob(2048, 44);
    await pushBlob(reg, 'team/pending', layer);
    await outlastClockMargin(reg.storage.driver);
    let recorded = false;
    const report = await collectGarbage(reg.storage, {
      gracePeriodMs: 0,
      hooks: {
        async afterSetAside(key) {
          if (!key.includes(layer.digest.slice('sha256:'.length)) || recorded) return;
          recorded = true;
          await beginPush(reg, layer);
        },
      },
    });
    expect(recorded).toBe(true);
    expect([report.blobsDeleted, report.keptInUse]).toEqual([[], 1]);
    expect((await reg.request.head(`/v2/team/pending/blobs/${layer.digest}`)).status).toBe(200);
  });

  it('deletes an untagged manifest from the database listings with its storage (deleteUntagged)', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/listed', 'v1', { seed: 42 });
    await pushImage(reg, 'team/listed', 'v2', { seed: 43 });
    expect((await reg.request.delete('/v2/team/listed/manifests/v1')).status).toBe(202);
    await outlastClockMargin(reg.storage.driver);
    await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });
    expect(await reg.storage.metadata!.hasManifestRow('team/listed', image.manifest.digest)).toBe(false);
    expect((await reg.request.get('/v2/team/listed/tags/list')).body).toEqual({ name: 'team/listed', tags: ['v2'] });
  });

  it('loses nothing of the pushes that run while it collects', async () => {
    const reg = registry();
    const pushes = Array.from({ length: 6 }, (_, i) => pushImage(reg, `busy/app${i % 2}`, `t${i}`, { seed: 20 + i }));
    const gc = collectGarbage(reg.storage, {});
    const images = await Promise.all(pushes);
    const report = await gc;
    expect(report.blobsDeleted).toEqual([]);
    for (const [i, image] of images.entries()) await pullsBack(`busy/app${i % 2}`, `t${i}`, [image.config, ...image.layers]);
  });
});
