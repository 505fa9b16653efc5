// Several tags in one manifest push (distribution-spec end-7b): PUT /v2/<name>/manifests/<digest>
// ?tag=a&tag=b points every tag at the manifest and answers OCI-Tag; a tag that is invalid, too
// many tags, or one an immutability rule keeps elsewhere refuses the push before anything is stored.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { buildImage, pushBlob, pushImage } from '../helpers/images.js';
import { putManifest } from '../helpers/registry-client.js';
import { ACCEPT_ALL } from '../helpers/content.js';
import { MAX_TAG_PARAMS } from '../../server/v2/handlers/manifests.js';

async function blobsOf(reg: TestRegistry, name: string, seed: number) {
  const image = buildImage({ seed });
  for (const blob of [image.config, ...image.layers]) await pushBlob(reg, name, blob);
  return image;
}

async function digestOf(reg: TestRegistry, name: string, reference: string): Promise<string | number> {
  const res = await reg.request.head(`/v2/${name}/manifests/${reference}`).set('Accept', ACCEPT_ALL);
  return res.status === 200 ? (res.headers['docker-content-digest'] as string) : res.status;
}

async function tagsOf(reg: TestRegistry, name: string): Promise<string[]> {
  const res = await reg.request.get(`/v2/${name}/tags/list`);
  return res.status === 200 ? res.body.tags : [];
}

describe.each(DRIVERS)('tag parameters on a manifest push ($name)', (factory) => {
  const registry = useTestRegistry(factory, { config: { stowage: { immutable: [{ repositories: ['release/**'], tags: ['v*'] }] } } });

  it('points every ?tag= at the manifest pushed by digest and answers OCI-Tag', async () => {
    const reg = registry();
    const { manifest } = await blobsOf(reg, 'team/app', 61);
    const res = await putManifest(reg, 'team/app', `${manifest.digest}?tag=1.2.3&tag=1.2&tag=1&tag=latest`, manifest.bytes, manifest.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(manifest.digest);
    expect(res.headers.location).toBe(`/v2/team/app/manifests/${manifest.digest}`);
    expect(res.headers['oci-tag']).toBe('1.2.3, 1.2, 1, latest');
    expect(await tagsOf(reg, 'team/app')).toEqual(['1', '1.2', '1.2.3', 'latest']);
    for (const tag of ['1', '1.2', '1.2.3', 'latest']) expect(await digestOf(reg, 'team/app', tag)).toBe(manifest.digest);
    // The audit log has a push of each tag.
    await reg.storage.audit.flush();
    const pushes = (await reg.storage.audit.store!.page({ limit: 100, action: 'push' })).events.filter((e) => e.digest === manifest.digest);
    expect(pushes.map((e) => e.reference).sort()).toEqual(['1', '1.2', '1.2.3', 'latest']);
  });

  it('takes ?tag= beside a tag reference, and repeats of a tag once', async () => {
    const reg = registry();
    const { manifest } = await blobsOf(reg, 'team/app', 62);
    const res = await putManifest(reg, 'team/app', 'main?tag=extra&tag=main&tag=extra', manifest.bytes, manifest.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers['oci-tag']).toBe('main, extra');
    expect(await tagsOf(reg, 'team/app')).toEqual(['extra', 'main']);
  });

  it('answers no OCI-Tag for a push without tag parameters', async () => {
    const reg = registry();
    const { manifest } = await blobsOf(reg, 'team/app', 63);
    const res = await putManifest(reg, 'team/app', 'v1', manifest.bytes, manifest.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers['oci-tag']).toBeUndefined();
  });

  it('refuses an invalid tag, too many tags and an immutable tag elsewhere, storing nothing', async () => {
    const reg = registry();
    const kept = await pushImage(reg, 'release/app', 'v1', { seed: 64 });
    const { manifest } = await blobsOf(reg, 'release/app', 65);
    const before = await tagsOf(reg, 'release/app');

    const invalid = await putManifest(reg, 'release/app', `${manifest.digest}?tag=ok&tag=-bad`, manifest.bytes, manifest.mediaType);
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors[0]).toMatchObject({ code: 'TAG_INVALID', detail: { tag: '-bad' } });

    const many = Array.from({ length: MAX_TAG_PARAMS + 1 }, (_, i) => `tag=t${i}`).join('&');
    const tooMany = await putManifest(reg, 'release/app', `${manifest.digest}?${many}`, manifest.bytes, manifest.mediaType);
    expect(tooMany.status).toBe(414);
    expect(tooMany.body.errors[0].code).toBe('TAG_INVALID');

    const immutable = await putManifest(reg, 'release/app', `${manifest.digest}?tag=new&tag=v1`, manifest.bytes, manifest.mediaType);
    expect(immutable.status).toBe(403);
    expect(immutable.body.errors[0].code).toBe('DENIED');

    expect(await digestOf(reg, 'release/app', manifest.digest)).toBe(404);
    expect(await tagsOf(reg, 'release/app')).toEqual(before);
    expect(await digestOf(reg, 'release/app', 'v1')).toBe(kept.manifest.digest);
    // The same digest again under the immutable tag is no move: accepted.
    const again = await putManifest(reg, 'release/app', `${kept.manifest.digest}?tag=v1&tag=stable`, kept.manifest.bytes, kept.manifest.mediaType);
    expect(again.status).toBe(201);
    expect(await tagsOf(reg, 'release/app')).toEqual(['stable', 'v1']);
  });
});
