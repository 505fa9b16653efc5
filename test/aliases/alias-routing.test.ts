// Requests through short names: an alias serves its target's manifests and blobs with the
// digests unchanged, shows in _catalog, refuses writes unless writable.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushBlob, pushImage } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';

const aliases = {
  busybox: 'team/base/busybox',
  'base/*': 'team/base/*',
  'tools/*': { target: 'team/tools/*', writable: true },
};

describe.each(DRIVERS)('aliases on $name', (factory) => {
  const registry = useTestRegistry(factory, { config: { stowage: { aliases } } });

  it('serves the target image through an exact alias with unchanged digests', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/base/busybox', 'latest', { seed: 31 });
    const manifest = await asBytes(reg.request.get('/v2/busybox/manifests/latest'));
    expect(manifest.status).toBe(200);
    expect(manifest.headers['docker-content-digest']).toBe(image.manifest.digest);
    expect(Buffer.compare(manifest.body as Buffer, image.manifest.bytes)).toBe(0);
    const layer = await asBytes(reg.request.get(`/v2/busybox/blobs/${image.layers[0].digest}`));
    expect(layer.status).toBe(200);
    expect(Buffer.compare(layer.body as Buffer, image.layers[0].bytes)).toBe(0);
  });

  it('serves through a prefix alias, and lists aliases in the catalog and their tags', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/base/alpine', '3.20', { seed: 32 });
    const head = await reg.request.head('/v2/base/alpine/manifests/3.20');
    expect(head.status).toBe(200);
    expect(head.headers['docker-content-digest']).toBe(image.manifest.digest);
    const catalog = await reg.request.get('/v2/_catalog');
    expect(catalog.body.repositories).toEqual(['base/alpine', 'team/base/alpine']);
    const tags = await reg.request.get('/v2/base/alpine/tags/list');
    expect(tags.status).toBe(200);
    // The name asked for, not the target's (the spec's answer names the repository of the path).
    expect(tags.body).toEqual({ name: 'base/alpine', tags: ['3.20'] });
    const target = await reg.request.get('/v2/team/base/alpine/tags/list');
    expect(target.body).toEqual({ name: 'team/base/alpine', tags: ['3.20'] });
  });

  it('counts repositories on the status page as _catalog lists them, aliases included', async () => {
    const reg = registry();
    await pushImage(reg, 'team/base/busybox', 'latest', { seed: 36 });
    await pushImage(reg, 'team/base/alpine', '3.20', { seed: 37 });
    await pushImage(reg, 'other/app', 'v1', { seed: 38 });
    const catalog = await reg.request.get('/v2/_catalog');
    expect(catalog.body.repositories).toEqual(['base/alpine', 'base/busybox', 'busybox', 'other/app', 'team/base/alpine', 'team/base/busybox']);
    const status = await reg.request.get('/').set('Accept', 'application/json');
    expect(status.status).toBe(200);
    expect(status.body.repositoryCount).toBe(6);
    // Each alias shows its target's tags.
    expect(status.body.repositories).toEqual(catalog.body.repositories.map((name: string) => ({ name, tags: 1 })));
  });

  it("pages an exact alias's tags under the alias's name", async () => {
    const reg = registry();
    await pushImage(reg, 'team/base/busybox', 'a', { seed: 35 });
    const image = await reg.request.get('/v2/team/base/busybox/manifests/a').buffer(true);
    const put = await reg.request.put('/v2/team/base/busybox/manifests/b').set('Content-Type', image.headers['content-type']).send(image.body);
    expect(put.status).toBe(201);
    const first = await reg.request.get('/v2/busybox/tags/list?n=1');
    expect(first.body).toEqual({ name: 'busybox', tags: ['a'] });
    expect(first.headers.link).toBe('</v2/busybox/tags/list?n=1&last=a>; rel="next"');
    const rest = await reg.request.get('/v2/busybox/tags/list?n=1&last=a');
    expect(rest.body).toEqual({ name: 'busybox', tags: ['b'] });
  });

  it('refuses a push through a read-only alias with DENIED and stores nothing', async () => {
    const reg = registry();
    const blob = randomBlob(512, 33);
    const res = await reg.request
      .post(`/v2/busybox/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expect(res.status).toBe(403);
    expect(res.body.errors[0].code).toBe('DENIED');
    expect(await reg.storage.catalog.repositories()).toEqual([]);
    const del = await reg.request.delete('/v2/busybox/manifests/latest');
    expect(del.status).toBe(403);
  });

  it('accepts a push through a writable alias into its target', async () => {
    const reg = registry();
    const blob = randomBlob(512, 34);
    await pushBlob(reg, 'tools/jq', blob);
    expect((await reg.request.head(`/v2/team/tools/jq/blobs/${blob.digest}`)).status).toBe(200);
  });

  it('answers an alias whose target is missing like any unknown manifest', async () => {
    const reg = registry();
    const res = await reg.request.get('/v2/busybox/manifests/latest');
    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('MANIFEST_UNKNOWN');
  });
});
