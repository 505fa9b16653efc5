// Garbage collection against pushes, each race provoked on purpose: a pausing driver stops one
// side exactly between two of its steps while the other side runs (storage/liveness.ts). Every
// case ends by pulling what was acknowledged and re-hashing it.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRIVERS, filesystemDriverFactory } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { buildImage, pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { digestOf, randomBlob, type Blob } from '../helpers/content.js';
import { PausingDriver } from '../helpers/pausing-driver.js';
import { outlastClockMargin } from '../helpers/storage-clock.js';
import { collectGarbage, GcBusyError } from '../../storage/jobs/gc.js';
import { RegistryStorage } from '../../storage/registry.js';
import { asideKey, blobDataKey } from '../../storage/layout.js';
import { recoverAbandonedRuns } from '../../storage/jobs/gc-lease.js';

/** A second process over the same storage (as `stowage gc` beside the server), pausable. */
function collector(reg: TestRegistry): { storage: RegistryStorage; driver: PausingDriver } {
  const driver = new PausingDriver(reg.backend.driver());
  return { storage: new RegistryStorage(driver), driver };
}

async function pullsIntact(reg: TestRegistry, name: string, reference: string, blobs: Blob[]): Promise<void> {
  const manifest = await reg.request.get(`/v2/${name}/manifests/${reference}`);
  expect(manifest.status, `manifest ${name}:${reference}`).toBe(200);
  for (const blob of blobs) {
    const res = await asBytes(reg.request.get(`/v2/${name}/blobs/${blob.digest}`));
    expect(res.status, `blob ${blob.digest} of ${name}`).toBe(200);
    expect(digestOf(res.body as Buffer)).toBe(blob.digest);
  }
}

/** Runs push while a collection with no grace period (another process) waits between its mark
 *  phase and its sweep of the content store, which begins by listing blobs/; then lets it end. */
async function afterMarkPhase(reg: TestRegistry, push: () => Promise<void>): Promise<void> {
  const gc = collector(reg);
  const sweep = gc.driver.pause('list', (key) => key === 'blobs');
  const running = collectGarbage(gc.storage, { gracePeriodMs: 0 });
  await sweep.reached;
  try {
    await push();
  } finally {
    sweep.open();
  }
  await running;
}

describe.each(DRIVERS)('garbage collection beside pushes on $name', (factory) => {
  const registry = useTestRegistry(factory);

  /** An image whose layer no manifest references any more, old enough for a collection with no grace. */
  async function orphanedLayer(reg: TestRegistry): Promise<Blob> {
    const old = await pushImage(reg, 'aaa/app', 'v1', { seed: 1 });
    expect((await reg.request.delete(`/v2/aaa/app/manifests/${old.manifest.digest}`)).status).toBe(202);
    await outlastClockMargin(reg.storage.driver);
    return old.layers[0];
  }

  it('keeps a layer that a push reuses (HEAD 200, no upload) after the mark phase', async () => {
    const reg = registry();
    const layer = await orphanedLayer(reg);
    const image = buildImage({ layers: [layer], seed: 2 });
    await afterMarkPhase(reg, async () => {
      expect((await reg.request.head(`/v2/aaa/app/blobs/${layer.digest}`)).status).toBe(200);
      await pushBlob(reg, 'aaa/app', image.config);
      await pushManifest(reg, 'aaa/app', 'v2', image.manifest);
    });

    await pullsIntact(reg, 'aaa/app', 'v2', [image.config, layer]);
  });

  it('keeps a layer mounted into a repository the mark phase never saw', async () => {
    const reg = registry();
    const layer = await orphanedLayer(reg);
    const image = buildImage({ layers: [layer], seed: 3 });
    await afterMarkPhase(reg, async () => {
      const mount = await reg.request.post(`/v2/zzz/new/blobs/uploads/?mount=${layer.digest}&from=aaa/app`);
      expect(mount.status).toBe(201);
      await pushBlob(reg, 'zzz/new', image.config);
      await pushManifest(reg, 'zzz/new', 'v1', image.manifest);
    });

    await pullsIntact(reg, 'zzz/new', 'v1', [image.config, layer]);
  });

  it('hands a layer back when a push reuses it while the collection has it set aside', async () => {
    const reg = registry();
    const layer = await orphanedLayer(reg);
    const gc = collector(reg);
    const judged = { key: '' };
    let release!: () => void;
    const aside = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const isAside = new Promise<void>((resolve) => (reached = resolve));
    const running = collectGarbage(gc.storage, {
      gracePeriodMs: 0,
      hooks: {
        afterSetAside: async (key) => {
          if (key !== blobDataKey(layer.digest)) return;
          judged.key = key;
          reached();
          await aside;
        },
      },
    });
    await isAside;
    // The layer is aside: the client's HEAD brings it back, so it skips the upload.
    expect((await reg.request.head(`/v2/aaa/app/blobs/${layer.digest}`)).status).toBe(200);
    const image = buildImage({ layers: [layer], seed: 4 });
    await pushBlob(reg, 'aaa/app', image.config);
    await pushManifest(reg, 'aaa/app', 'v3', image.manifest);
    release();
    const report = await running;

    expect(judged.key).toBe(blobDataKey(layer.digest));
    expect(report.blobsDeleted).not.toContain(layer.digest);
    await pullsIntact(reg, 'aaa/app', 'v3', [image.config, layer]);
  });

  it('keeps an untagged manifest that is tagged after the mark phase (deleteUntagged)', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'ccc/app', 'tmp', { seed: 5 });
    expect((await reg.request.delete('/v2/ccc/app/manifests/tmp')).status).toBe(202);
    await outlastClockMargin(reg.storage.driver);
    const gc = collector(reg);
    // The first step of deleting the revision, whichever way the collection takes it.
    const revisionKey = (key: string) => key.includes('ccc/app/_manifests/revisions/');
    const deleting = [gc.driver.pause('delete', revisionKey), gc.driver.pause('setAside', revisionKey)];
    const running = collectGarbage(gc.storage, { gracePeriodMs: 0, deleteUntagged: true });
    await Promise.race(deleting.map((gate) => gate.reached));

    await pushManifest(reg, 'ccc/app', 'release', image.manifest);
    deleting.forEach((gate) => gate.open());
    await running;

    await pullsIntact(reg, 'ccc/app', 'release', [image.config, ...image.layers]);
  });

  it('lets one collection run at a time', async () => {
    const reg = registry();
    const gc = collector(reg);
    const sweep = gc.driver.pause('list', (key) => key === 'blobs');
    const first = collectGarbage(gc.storage, { gracePeriodMs: 0 });
    await sweep.reached;
    await expect(collectGarbage(reg.storage, { gracePeriodMs: 0 })).rejects.toBeInstanceOf(GcBusyError);
    sweep.open();
    await first;
    await expect(collectGarbage(reg.storage, { gracePeriodMs: 0 })).resolves.toMatchObject({ dryRun: false });
  });

  it('puts back what a killed collection left aside', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'ddd/app', 'v1', { seed: 6 });
    const driver = reg.backend.driver();
    const run = '00000000-0000-4000-8000-000000000001';
    // A collection killed right after setting the layer aside (its lease long gone).
    const key = blobDataKey(image.layers[0].digest);
    await driver.setAside(key, asideKey(run, key));
    expect(await driver.touch(key)).toBe(false);

    // The next server start (or collection) puts it back.
    await reg.restart();
    await pullsIntact(reg, 'ddd/app', 'v1', [image.config, ...image.layers]);
    expect(await driver.list('_gc/aside')).toEqual([]);
    await driver.setAside(key, asideKey(run, key));
    expect(await recoverAbandonedRuns(driver)).toEqual([key]);
    expect(await driver.touch(key)).toBe(true);
  });
});

describe('a manifest revision caught half written (filesystem)', () => {
  let driver: PausingDriver | undefined;
  const registry = useTestRegistry(filesystemDriverFactory, {
    wrapDriver: (inner) => (driver = new PausingDriver(inner)),
  });

  it('is not deleted as untagged while its link is being renamed in', async () => {
    const reg = registry();
    const layer = randomBlob(3000, 7);
    const image = buildImage({ layers: [layer], seed: 7 });
    await pushBlob(reg, 'eee/app', image.config);
    await pushBlob(reg, 'eee/app', layer);
    const writer = driver!;
    // The push stops with the revision's directory made and its link not yet in it.
    const linkWrite = writer.pause('putContent', (key) => key.endsWith(`/_manifests/revisions/sha256/${image.manifest.digest.slice(7)}/link`), {
      before: async (key) => {
        await fsp.mkdir(path.dirname(path.join(reg.root, key)), { recursive: true });
      },
    });
    const push = pushManifest(reg, 'eee/app', 'v1', image.manifest);
    await linkWrite.reached;

    const gc = collector(reg);
    const revisionDir = (key: string) => key.includes('eee/app/_manifests/revisions/sha256/');
    const looked = gc.driver.pause('stat', (key) => revisionDir(key) && key.endsWith('/link'));
    const deleting = [gc.driver.pause('delete', revisionDir), gc.driver.pause('setAside', revisionDir)];
    const running = collectGarbage(gc.storage, { deleteUntagged: true });
    await looked.reached;
    looked.open();
    // The collection has seen the directory without a link; let the push finish, then let the
    // collection go on to whatever it decided.
    linkWrite.open();
    await push;
    deleting.forEach((gate) => gate.open());
    await running;

    await pullsIntact(reg, 'eee/app', 'v1', [image.config, layer]);
  });
});
