// Retagging on the server (storage/jobs/retag.ts) and its command: links
// only, so the content store does not grow, and the retagged image pulls with unchanged digests.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushImage, pushManifest } from '../helpers/images.js';
import { ociIndex } from '../helpers/content.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { registryUsage } from '../../storage/jobs/usage.js';
import { retagCommand } from '../../server/commands/images.js';

async function storedBytes(reg: TestRegistry): Promise<number> {
  return (await registryUsage(reg.storage)).storedBytes;
}

describe.each(DRIVERS)('retag on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it('links a tagged image under a short name without storing a byte more', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/base/busybox', 'v1', { seed: 11 });
    const before = await storedBytes(reg);

    const result = await retag(reg.storage, parseImageReference('team/base/busybox:v1'), parseImageReference('busybox'));

    expect(result).toMatchObject({ digest: image.manifest.digest, manifests: 1, blobs: 2, missing: [] });
    expect(await storedBytes(reg)).toBe(before);
    const manifest = await asBytes(reg.request.get('/v2/busybox/manifests/v1'));
    expect(manifest.status).toBe(200);
    expect(manifest.headers['docker-content-digest']).toBe(image.manifest.digest);
    expect(Buffer.compare(manifest.body as Buffer, image.manifest.bytes)).toBe(0);
    const layer = await asBytes(reg.request.get(`/v2/busybox/blobs/${image.layers[0].digest}`));
    expect(Buffer.compare(layer.body as Buffer, image.layers[0].bytes)).toBe(0);
  });

  it('retags by digest to a new tag', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'src', 'v1', { seed: 12 });
    await retag(reg.storage, parseImageReference(`src@${image.manifest.digest}`), parseImageReference('dst:stable'));
    const res = await reg.request.head('/v2/dst/manifests/stable');
    expect(res.status).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(image.manifest.digest);
  });

  it('links every child manifest of an index', async () => {
    const reg = registry();
    const a = await pushImage(reg, 'multi', 'amd64', { seed: 13 });
    const b = await pushImage(reg, 'multi', 'arm64', { seed: 14 });
    const index = ociIndex([a.manifest, b.manifest]);
    await pushManifest(reg, 'multi', 'latest', index);
    const before = await storedBytes(reg);

    const result = await retag(reg.storage, parseImageReference('multi:latest'), parseImageReference('tools/multi:1.0'));

    expect(result.manifests).toBe(3);
    expect(await storedBytes(reg)).toBe(before);
    for (const child of [a, b]) {
      expect((await reg.request.get(`/v2/tools/multi/manifests/${child.manifest.digest}`)).status).toBe(200);
      expect((await reg.request.head(`/v2/tools/multi/blobs/${child.layers[0].digest}`)).status).toBe(200);
    }
    expect((await reg.request.get('/v2/tools/multi/manifests/1.0')).headers['docker-content-digest']).toBe(index.digest);
  });

  it('answers MANIFEST_UNKNOWN for a source that does not exist and creates nothing', async () => {
    const reg = registry();
    await expect(retag(reg.storage, parseImageReference('nothing:here'), parseImageReference('dst'))).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
    });
    expect(await reg.storage.catalog.repositories()).toEqual([]);
  });

  it('refuses hostile names on either side', () => {
    expect(() => parseImageReference('../etc:latest')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => parseImageReference('ok@sha256:xyz')).toThrow(expect.objectContaining({ code: 'DIGEST_INVALID' }));
  });

  it('prints script-friendly output for retag', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 15 });
    const lines: string[] = [];
    const print = (line: string) => void lines.push(line);

    await retagCommand(reg.storage, 'team/app:v1', 'app', {}, print);
    expect(lines.pop()).toBe(`app:v1 -> ${image.manifest.digest} (1 manifests, 2 blobs linked, no bytes copied)`);
    await retagCommand(reg.storage, 'team/app:v1', 'copy:v2', { json: true }, print);
    expect(JSON.parse(lines.pop()!)).toMatchObject({ source: 'team/app:v1', destination: 'copy:v2', digest: image.manifest.digest, manifests: 1 });
  });
});
