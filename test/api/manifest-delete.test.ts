// Deleting manifests (end-9) by digest or by tag: 202, then the reference is unknown; 405 when
// storage.delete.enabled is false.
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { EMPTY_CONFIG, blobOf, ociArtifact } from '../helpers/content.js';

describe.each(DRIVERS)('deleting a manifest ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  it('by digest answers 202 and removes the manifest and every tag pointing at it', async () => {
    const { manifest } = await pushImage(registry(), `${ns}/app`, 'v1');
    await pushManifest(registry(), `${ns}/app`, 'latest', manifest);
    const other = await pushImage(registry(), `${ns}/app`, 'v2', { seed: 2 });
    const res = await registry().request.delete(`/v2/${ns}/app/manifests/${manifest.digest}`);
    expectAnswer(res, 202);
    expect(res.headers['content-length']).toBe('0');
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/${manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/latest`), 404, 'MANIFEST_UNKNOWN');
    const tags = await registry().request.get(`/v2/${ns}/app/tags/list`);
    expectAnswer(tags, 200);
    expect(tags.body.tags).toEqual(['v2']);
    expectAnswer(await registry().request.head(`/v2/${ns}/app/manifests/${other.manifest.digest}`), 200);
  });

  it('by tag answers 202 and removes only the tag', async () => {
    const { manifest } = await pushImage(registry(), `${ns}/app`, 'v1');
    await pushManifest(registry(), `${ns}/app`, 'latest', manifest);
    const res = await registry().request.delete(`/v2/${ns}/app/manifests/v1`);
    expectAnswer(res, 202);
    expectError(await registry().request.get(`/v2/${ns}/app/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
    expectAnswer(await registry().request.head(`/v2/${ns}/app/manifests/latest`), 200);
    expectAnswer(await registry().request.head(`/v2/${ns}/app/manifests/${manifest.digest}`), 200);
    const tags = await registry().request.get(`/v2/${ns}/app/tags/list`);
    expect(tags.body.tags).toEqual(['latest']);
  });

  it('keeps the blobs the manifest named', async () => {
    const { manifest, layers } = await pushImage(registry(), `${ns}/app`, 'v1');
    expectAnswer(await registry().request.delete(`/v2/${ns}/app/manifests/${manifest.digest}`), 202);
    expectAnswer(await registry().request.head(`/v2/${ns}/app/blobs/${layers[0].digest}`), 200);
  });

  it('by digest also drops it from the referrers of its subject', async () => {
    const { manifest } = await pushImage(registry(), `${ns}/app`, 'v1');
    const sbom = blobOf('sbom');
    await pushBlob(registry(), `${ns}/app`, EMPTY_CONFIG);
    await pushBlob(registry(), `${ns}/app`, sbom);
    const artifact = ociArtifact('application/vnd.example.sbom', [sbom], manifest.descriptor);
    await pushManifest(registry(), `${ns}/app`, artifact.digest, artifact);
    expectAnswer(await registry().request.delete(`/v2/${ns}/app/manifests/${artifact.digest}`), 202);
    const referrers = await registry().request.get(`/v2/${ns}/app/referrers/${manifest.digest}`);
    expectAnswer(referrers, 200);
    expect(JSON.parse(referrers.text).manifests).toEqual([]);
  });

  it('by an unknown digest answers 404 MANIFEST_UNKNOWN', async () => {
    await pushImage(registry(), `${ns}/app`, 'v1');
    const res = await registry().request.delete(`/v2/${ns}/app/manifests/${blobOf('nothing').digest}`);
    expectError(res, 404, 'MANIFEST_UNKNOWN');
  });

  it('by an unknown tag answers 404 MANIFEST_UNKNOWN', async () => {
    await pushImage(registry(), `${ns}/app`, 'v1');
    expectError(await registry().request.delete(`/v2/${ns}/app/manifests/v9`), 404, 'MANIFEST_UNKNOWN');
  });

  it('by a malformed digest answers 400 DIGEST_INVALID', async () => {
    expectError(await registry().request.delete(`/v2/${ns}/app/manifests/sha256:0`), 400, 'DIGEST_INVALID');
  });
});

describe.each(DRIVERS)('deleting a manifest with deletes disabled ($name)', (factory) => {
  const registry = useTestRegistry(factory, { config: { storage: { delete: { enabled: false } } } });
  const ns = 'disabled';

  it('answers 405 UNSUPPORTED by digest and by tag, and keeps the manifest', async () => {
    const { manifest } = await pushImage(registry(), `${ns}/app`, 'v1');
    expectError(await registry().request.delete(`/v2/${ns}/app/manifests/${manifest.digest}`), 405, 'UNSUPPORTED');
    expectError(await registry().request.delete(`/v2/${ns}/app/manifests/v1`), 405, 'UNSUPPORTED');
    expectAnswer(await registry().request.head(`/v2/${ns}/app/manifests/v1`), 200);
  });
});
