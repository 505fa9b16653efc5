// Concurrent pushes: two clients pushing the same blob, or the same tag, at the same time both
// succeed, and what is stored afterwards is whole and consistent.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer } from '../helpers/expect-answer.js';
import { asBytes, putManifest, startUpload, withQuery } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { blobOf, ociManifest, randomBlob } from '../helpers/content.js';

const layer = randomBlob(2 * 1024 * 1024, 21);

describe.each(DRIVERS)('concurrent pushes ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('of the same blob to one repository both answer 201 and the blob is whole', async () => {
    const push = () =>
      registry()
        .request.post(`/v2/library/app/blobs/uploads/?digest=${layer.digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(layer.bytes);
    const answers = await Promise.all([push(), push(), push()]);
    for (const res of answers) {
      expectAnswer(res, 201);
      expect(res.headers['docker-content-digest']).toBe(layer.digest);
    }
    const pulled = await asBytes(registry().request.get(`/v2/library/app/blobs/${layer.digest}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).equals(layer.bytes)).toBe(true);
  });

  it('of the same blob to two repositories, by two upload paths, both answer 201', async () => {
    const upload = await startUpload(registry(), 'library/two');
    const [monolithic, chunked] = await Promise.all([
      registry()
        .request.post(`/v2/library/one/blobs/uploads/?digest=${layer.digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(layer.bytes),
      registry()
        .request.put(withQuery(upload, 'digest', layer.digest))
        .set('Content-Type', 'application/octet-stream')
        .send(layer.bytes),
    ]);
    expectAnswer(monolithic, 201);
    expectAnswer(chunked, 201);
    for (const name of ['library/one', 'library/two']) {
      const pulled = await asBytes(registry().request.get(`/v2/${name}/blobs/${layer.digest}`));
      expect((pulled.body as Buffer).equals(layer.bytes)).toBe(true);
    }
  });

  it('of the same tag both answer 201 and the tag ends on one of the two manifests', async () => {
    const configs = [blobOf('{"n":1}'), blobOf('{"n":2}')];
    const small = blobOf('small layer');
    for (const blob of [...configs, small]) await pushBlob(registry(), 'library/app', blob);
    const manifests = configs.map((c) => ociManifest(c, [small]));
    const answers = await Promise.all(manifests.map((m) => putManifest(registry(), 'library/app', 'latest', m.bytes, m.mediaType)));
    answers.forEach((res, i) => {
      expectAnswer(res, 201);
      expect(res.headers['docker-content-digest']).toBe(manifests[i].digest);
    });
    const pulled = await asBytes(registry().request.get('/v2/library/app/manifests/latest'));
    expectAnswer(pulled, 200);
    const winner = manifests.find((m) => m.digest === pulled.headers['docker-content-digest']);
    expect(winner).toBeDefined();
    expect((pulled.body as Buffer).equals(winner!.bytes)).toBe(true);
    for (const m of manifests) expectAnswer(await registry().request.head(`/v2/library/app/manifests/${m.digest}`), 200);
  });

  it('of the same manifest under the same tag both answer 201', async () => {
    const config = blobOf('{"same":true}');
    await pushBlob(registry(), 'library/app', config);
    const manifest = ociManifest(config, []);
    const answers = await Promise.all([1, 2, 3].map(() => putManifest(registry(), 'library/app', 'v1', manifest.bytes, manifest.mediaType)));
    for (const res of answers) expectAnswer(res, 201);
    const pulled = await asBytes(registry().request.get('/v2/library/app/manifests/v1'));
    expect((pulled.body as Buffer).equals(manifest.bytes)).toBe(true);
  });
});
