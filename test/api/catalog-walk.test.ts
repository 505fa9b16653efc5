// The catalog walk (storage/catalog.ts): concurrent requests with a cold cache share one walk of
// storage, and a repository written during a walk is never hidden by caching that walk.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { RegistryStorage } from '../../storage/registry.js';
import { blobOf } from '../helpers/content.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A filesystem driver that counts listings of the repositories root. */
class CountingDriver extends FilesystemDriver {
  rootListings = 0;
  override async list(prefix: string): Promise<string[]> {
    if (prefix === 'repositories') this.rootListings++;
    return super.list(prefix);
  }
}

async function storageWith(names: string[]): Promise<{ storage: RegistryStorage; driver: CountingDriver }> {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-catalog-'));
  const driver = new CountingDriver(dir);
  const storage = new RegistryStorage(driver);
  await storage.open();
  const blob = blobOf('layer');
  await storage.blobs.putSmall(blob.digest, blob.bytes);
  for (const name of names) await storage.blobs.link(name, blob.digest);
  return { storage, driver };
}

describe('catalog walk', () => {
  it('shares one walk among concurrent requests when the cache is cold', async () => {
    const { storage, driver } = await storageWith(['a/one', 'a/two', 'b']);
    storage.cache.clear();
    driver.rootListings = 0;
    const answers = await Promise.all(Array.from({ length: 20 }, () => storage.catalog.repositories()));
    expect(driver.rootListings).toBe(1);
    for (const answer of answers) expect(answer).toEqual(['a/one', 'a/two', 'b']);
  });

  it('does not cache a walk that a write overtook, so the new repository shows next time', async () => {
    const { storage } = await storageWith(['a']);
    storage.cache.clear();
    const walk = storage.catalog.repositories();
    const blob = blobOf('layer');
    await storage.blobs.link('z/new', blob.digest);
    await walk;
    expect(await storage.catalog.repositories()).toEqual(['a', 'z/new']);
  });
});
