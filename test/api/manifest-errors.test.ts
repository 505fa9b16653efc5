// Manifests the registry refuses (end-7 error answers) and references it does not hold (end-3):
// each refusal carries the spec's code and leaves nothing stored under the reference.
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { putManifest, rawRequest } from '../helpers/registry-client.js';
import { pushBlob, pushManifest } from '../helpers/images.js';
import { MEDIA, blobOf, dockerManifest, ociIndex, ociManifest } from '../helpers/content.js';

const config = blobOf('{"architecture":"amd64","os":"linux"}');
const layer = blobOf('layer bytes');
const image = ociManifest(config, [layer]);

async function expectNothingUnder(reg: TestRegistry, name: string, reference: string): Promise<void> {
  expectError(await reg.request.get(`/v2/${name}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
}

describe.each(DRIVERS)('a manifest the registry refuses ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  it('naming a layer the repository lacks gets 400 MANIFEST_BLOB_UNKNOWN with the digest in detail', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    const res = await putManifest(registry(), `${ns}/app`, 'v1', image.bytes, image.mediaType);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(JSON.stringify(res.body.errors[0].detail)).toContain(layer.digest);
    await expectNothingUnder(registry(), `${ns}/app`, 'v1');
    await expectNothingUnder(registry(), `${ns}/app`, image.digest);
  });

  it('naming a config the repository lacks gets 400 MANIFEST_BLOB_UNKNOWN', async () => {
    await pushBlob(registry(), `${ns}/app`, layer);
    const docker = dockerManifest(config, [layer]);
    const res = await putManifest(registry(), `${ns}/app`, 'v1', docker.bytes, docker.mediaType);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    await expectNothingUnder(registry(), `${ns}/app`, 'v1');
  });

  it('naming a blob held only by another repository gets 400 MANIFEST_BLOB_UNKNOWN', async () => {
    await pushBlob(registry(), `${ns}/other`, config);
    await pushBlob(registry(), `${ns}/other`, layer);
    const res = await putManifest(registry(), `${ns}/app`, 'v1', image.bytes, image.mediaType);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('an index naming a child manifest the repository lacks gets 400 MANIFEST_BLOB_UNKNOWN', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    await pushManifest(registry(), `${ns}/app`, image.digest, image);
    const missing = ociManifest(blobOf('{"os":"windows"}'), [layer]);
    const index = ociIndex([image, missing]);
    const res = await putManifest(registry(), `${ns}/app`, 'multi', index.bytes, index.mediaType);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(JSON.stringify(res.body.errors[0].detail)).toContain(missing.digest);
    expect(JSON.stringify(res.body.errors[0].detail)).not.toContain(image.digest);
    await expectNothingUnder(registry(), `${ns}/app`, 'multi');
  });

  it.each([
    ['that is not JSON', Buffer.from('{"schemaVersion": 2, '), MEDIA.ociManifest],
    ['that is a JSON array', Buffer.from('[]'), MEDIA.ociManifest],
    ['whose mediaType disagrees with Content-Type', dockerManifest(config, [layer]).bytes, MEDIA.ociManifest],
    ['of an unsupported media type', Buffer.from('{"schemaVersion":2}'), 'text/plain'],
    [
      'of Docker schema1',
      Buffer.from('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}'),
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
    ],
    ['without schemaVersion 2', Buffer.from(JSON.stringify({ ...JSON.parse(image.bytes.toString()), schemaVersion: 1 })), MEDIA.ociManifest],
    ['without a config', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, layers: [] })), MEDIA.ociManifest],
    [
      'with a malformed layer digest',
      Buffer.from(JSON.stringify({ ...JSON.parse(image.bytes.toString()), layers: [{ mediaType: MEDIA.ociLayer, digest: 'sha256:zz', size: 1 }] })),
      MEDIA.ociManifest,
    ],
    ['with no media type at all', Buffer.from('{"schemaVersion":2}'), 'application/json'],
  ])('a manifest %s gets 400 MANIFEST_INVALID', async (_what, bytes, contentType) => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    const res = await putManifest(registry(), `${ns}/app`, 'v1', bytes, contentType);
    expectError(res, 400, 'MANIFEST_INVALID');
    await expectNothingUnder(registry(), `${ns}/app`, 'v1');
  });

  it('pushed under a digest it does not have gets 400 DIGEST_INVALID', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    const wrong = blobOf('not the manifest').digest;
    const res = await putManifest(registry(), `${ns}/app`, wrong, image.bytes, image.mediaType);
    expectError(res, 400, 'DIGEST_INVALID');
    await expectNothingUnder(registry(), `${ns}/app`, wrong);
    await expectNothingUnder(registry(), `${ns}/app`, image.digest);
  });

  it('pushed under a malformed digest gets 400 DIGEST_INVALID', async () => {
    const res = await putManifest(registry(), `${ns}/app`, 'sha256:1234', image.bytes, image.mediaType);
    expectError(res, 400, 'DIGEST_INVALID');
  });

  it('over 4 MiB gets 413 SIZE_INVALID', async () => {
    const big = Buffer.from(JSON.stringify({ ...JSON.parse(image.bytes.toString()), annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } }));
    const res = await putManifest(registry(), `${ns}/app`, 'big', big, MEDIA.ociManifest);
    expectError(res, 413, 'SIZE_INVALID');
    await expectNothingUnder(registry(), `${ns}/app`, 'big');
  });

  it('over 4 MiB without Content-Length (chunked) gets 413 SIZE_INVALID', async () => {
    const piece = Buffer.alloc(512 * 1024, 0x20);
    const res = await rawRequest(registry().port, 'PUT', `/v2/${ns}/app/manifests/big`, {
      headers: { 'Content-Type': MEDIA.ociManifest },
      chunks: Array.from({ length: 9 }, () => piece),
    });
    expectError({ ...res, text: res.body.toString() }, 413, 'SIZE_INVALID');
  });

  it.each(['-leading-dash', '.leading-dot', 'a'.repeat(129), 'has%20space'])('pushed under the tag %s gets 400 TAG_INVALID', async (tag) => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    const res = await putManifest(registry(), `${ns}/app`, tag, image.bytes, image.mediaType);
    expectError(res, 400, 'TAG_INVALID');
    const tags = await registry().request.get(`/v2/${ns}/app/tags/list`);
    expectAnswer(tags, 200);
    expect(tags.body.tags).toEqual([]);
  });

  it('accepts a tag of exactly 128 characters', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    await pushManifest(registry(), `${ns}/app`, 'T'.repeat(128), image);
  });
});

describe.each(DRIVERS)('pulling a manifest the registry does not hold ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  it('by tag gets 404 MANIFEST_UNKNOWN', async () => {
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/latest`), 404, 'MANIFEST_UNKNOWN');
  });

  it('by digest gets 404 MANIFEST_UNKNOWN', async () => {
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('by HEAD gets 404 without a body', async () => {
    expectError(await registry().request.head(`/v2/${ns}/app/manifests/latest`), 404, 'MANIFEST_UNKNOWN', { head: true });
  });

  it('by a blob digest gets 404 MANIFEST_UNKNOWN: a blob is not a manifest', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/${config.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('by a malformed digest gets 400 DIGEST_INVALID', async () => {
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/sha256:abc`), 400, 'DIGEST_INVALID');
  });
});
