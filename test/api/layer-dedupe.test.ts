// One copy of each blob registry-wide: the same layer pushed to two repositories, by any upload
// path, is stored once under blobs/ and linked from both.
import { describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer } from '../helpers/expect-answer.js';
import { asBytes, startUpload, withQuery } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';

/** Every object key under prefix, walking the driver's listing. */
async function keysUnder(driver: StorageDriver, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const child of await driver.list(prefix)) {
    const key = `${prefix}/${child}`;
    const below = await keysUnder(driver, key);
    if (below.length > 0) out.push(...below);
    else out.push(key);
  }
  return out;
}

const layer = randomBlob(64 * 1024, 11);

describe.each(DRIVERS)('layer dedupe ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('stores a layer pushed to two repositories once under blobs/', async () => {
    await pushBlob(registry(), 'team-a/app', layer);
    const upload = await startUpload(registry(), 'team-b/app');
    const res = await registry().request.patch(upload).set('Content-Type', 'application/octet-stream').send(layer.bytes);
    expectAnswer(res, 202);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', layer.digest)), 201);

    const driver = registry().storage.driver;
    const blobKeys = await keysUnder(driver, 'blobs');
    expect(blobKeys).toHaveLength(1);
    expect((await driver.getContent(blobKeys[0])).equals(layer.bytes)).toBe(true);
    for (const name of ['team-a/app', 'team-b/app']) {
      const pulled = await asBytes(registry().request.get(`/v2/${name}/blobs/${layer.digest}`));
      expectAnswer(pulled, 200);
      expect((pulled.body as Buffer).equals(layer.bytes)).toBe(true);
    }
  });

  it('leaves no upload state behind once the duplicate is committed', async () => {
    await pushBlob(registry(), 'team-a/app', layer);
    await pushBlob(registry(), 'team-b/app', layer);
    const driver = registry().storage.driver;
    expect(await driver.list('repositories/team-b/app/_uploads')).toEqual([]);
    expect(await keysUnder(driver, 'blobs')).toHaveLength(1);
  });

  it('stores a layer pushed twice to the same repository once', async () => {
    await pushBlob(registry(), 'team-a/app', layer);
    await pushBlob(registry(), 'team-a/app', layer);
    expect(await keysUnder(registry().storage.driver, 'blobs')).toHaveLength(1);
  });
});
