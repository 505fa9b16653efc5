// The manifest cache must hold what its size limit counts: a cached manifest's bytes own their
// memory, never a slice of Node's shared 8 KiB buffer pool (which would keep the whole slab alive).
import { describe, expect, it } from 'vitest';
import { ownedBytes, RegistryCache } from '../../storage/cache.js';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { pushImage } from '../helpers/images.js';

function ownsItsMemory(bytes: Buffer): boolean {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length;
}

describe('ownedBytes', () => {
  it('copies a slice of the buffer pool into memory of its own, and keeps a buffer that owns its memory', () => {
    const pooled = Buffer.from('{"schemaVersion":2}');
    expect(ownsItsMemory(pooled)).toBe(false);
    const owned = ownedBytes(pooled);
    expect(ownsItsMemory(owned)).toBe(true);
    expect(owned.equals(pooled)).toBe(true);
    const slow = Buffer.allocUnsafeSlow(10).fill(1);
    expect(ownedBytes(slow)).toBe(slow);
  });
});

describe('RegistryCache.purgeStale', () => {
  it('drops entries past their TTL and keeps fresh ones', () => {
    // A clock of the test's own: on real time a busy machine could age the fresh entry too.
    let now = 1_000_000;
    const cache = new RegistryCache({ ttlMs: 30, manifestBytes: 1024 * 1024, now: () => now });
    for (let i = 0; i < 100; i++) {
      cache.tags.set(RegistryCache.tagKey('team/app', `t${i}`), `sha256:${i}`);
      cache.manifests.set(RegistryCache.contentKey('team/app', `sha256:${i}`), { digest: `sha256:${i}`, mediaType: 'x', bytes: Buffer.alloc(10) });
      cache.blobs.set(`b${i}`, i);
    }
    now += 31;
    cache.tags.set(RegistryCache.tagKey('team/app', 'fresh'), 'sha256:f');
    now += 29;
    cache.purgeStale();
    expect(cache.tags.size).toBe(1);
    expect(cache.manifests.size).toBe(0);
    expect(cache.manifests.calculatedSize).toBe(0);
    expect(cache.blobs.size).toBe(0);
  });
});

describe.each(DRIVERS)('manifest cache memory on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it('caches pushed and read manifests in buffers of their own', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 61 });
    const key = RegistryCache.contentKey('team/app', image.manifest.digest);
    const afterPush = reg.storage.cache.manifests.get(key);
    expect(afterPush?.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(ownsItsMemory(afterPush!.bytes)).toBe(true);

    reg.storage.cache.clear();
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    const afterRead = reg.storage.cache.manifests.get(key);
    expect(afterRead?.bytes.equals(image.manifest.bytes)).toBe(true);
    expect(ownsItsMemory(afterRead!.bytes)).toBe(true);
  });
});
