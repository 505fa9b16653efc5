// Pushing and pulling manifests of every kind (end-7 PUT, end-3 GET/HEAD) by tag and by digest:
// the bytes come back exactly as pushed, with the media type they were pushed as.
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer } from '../helpers/expect-answer.js';
import { asBytes, locationPath, putManifest, sendBytes } from '../helpers/registry-client.js';
import { pushBlob, pushManifest } from '../helpers/images.js';
import {
  EMPTY_CONFIG,
  MEDIA,
  blobOf,
  digestOf,
  dockerManifest,
  dockerManifestList,
  ociArtifact,
  ociArtifactManifest,
  ociIndex,
  ociManifest,
  type Blob,
  type Manifest,
} from '../helpers/content.js';

const config = blobOf('{"architecture":"amd64","os":"linux"}');
const layer = blobOf('layer bytes');
const otherConfig = blobOf('{"architecture":"arm64","os":"linux"}');

interface Kind {
  kind: string;
  blobs: Blob[];
  /** Manifests to push by digest before the one under test. */
  children: Manifest[];
  manifest: Manifest;
}

const imageA = ociManifest(config, [layer]);
const imageB = ociManifest(otherConfig, [layer]);
const dockerA = dockerManifest(config, [layer]);
const dockerB = dockerManifest(otherConfig, [layer]);

const KINDS: Kind[] = [
  { kind: 'a Docker schema2 manifest', blobs: [config, layer], children: [], manifest: dockerA },
  {
    kind: 'a Docker manifest list',
    blobs: [config, otherConfig, layer],
    children: [dockerA, dockerB],
    manifest: dockerManifestList([dockerA, dockerB]),
  },
  { kind: 'an OCI image manifest', blobs: [config, layer], children: [], manifest: imageA },
  { kind: 'an OCI image index', blobs: [config, otherConfig, layer], children: [imageA, imageB], manifest: ociIndex([imageA, imageB]) },
  {
    kind: 'an OCI artifact (image manifest with artifactType)',
    blobs: [EMPTY_CONFIG, layer],
    children: [],
    manifest: ociArtifact('application/vnd.example.sbom.v1', [layer]),
  },
  { kind: 'an OCI artifact manifest', blobs: [layer], children: [], manifest: ociArtifactManifest('application/vnd.example.signature.v1', [layer]) },
];

async function pushKind(reg: TestRegistry, name: string, kind: Kind): Promise<void> {
  for (const blob of kind.blobs) await pushBlob(reg, name, blob);
  for (const child of kind.children) await pushManifest(reg, name, child.digest, child);
}

async function expectManifest(reg: TestRegistry, path: string, manifest: Manifest): Promise<void> {
  const res = await asBytes(reg.request.get(path).set('Accept', Object.values(MEDIA).join(', ')));
  expectAnswer(res, 200);
  expect(res.headers['content-type']).toBe(manifest.mediaType);
  expect(res.headers['docker-content-digest']).toBe(manifest.digest);
  expect(res.headers['content-length']).toBe(String(manifest.size));
  expect((res.body as Buffer).equals(manifest.bytes)).toBe(true);
}

describe.each(DRIVERS)('pushing and pulling manifests ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  describe.each(KINDS)('$kind', (kind) => {
    it('is created by PUT under a tag with 201, Location and Docker-Content-Digest', async () => {
      await pushKind(registry(), `${ns}/app`, kind);
      const res = await putManifest(registry(), `${ns}/app`, 'v1.0', kind.manifest.bytes, kind.manifest.mediaType);
      expectAnswer(res, 201);
      expect(locationPath(res.headers.location)).toBe(`/v2/${ns}/app/manifests/${kind.manifest.digest}`);
      expect(res.headers['docker-content-digest']).toBe(kind.manifest.digest);
      expect(res.headers['content-length']).toBe('0');
      expect(res.headers['oci-subject']).toBeUndefined();
    });

    it('is served by tag and by digest as the exact bytes pushed, with its media type', async () => {
      await pushKind(registry(), `${ns}/app`, kind);
      await pushManifest(registry(), `${ns}/app`, 'v1.0', kind.manifest);
      await expectManifest(registry(), `/v2/${ns}/app/manifests/v1.0`, kind.manifest);
      await expectManifest(registry(), `/v2/${ns}/app/manifests/${kind.manifest.digest}`, kind.manifest);
    });

    it('answers HEAD with the GET headers and no body', async () => {
      await pushKind(registry(), `${ns}/app`, kind);
      await pushManifest(registry(), `${ns}/app`, 'v1.0', kind.manifest);
      for (const reference of ['v1.0', kind.manifest.digest]) {
        const res = await registry().request.head(`/v2/${ns}/app/manifests/${reference}`);
        expectAnswer(res, 200);
        expect(res.headers['content-type']).toBe(kind.manifest.mediaType);
        expect(res.headers['docker-content-digest']).toBe(kind.manifest.digest);
        expect(res.headers['content-length']).toBe(String(kind.manifest.size));
        expect(res.text ?? '').toBe('');
      }
    });

    it('is created by PUT under its digest, without creating a tag', async () => {
      await pushKind(registry(), `${ns}/app`, kind);
      const res = await pushManifest(registry(), `${ns}/app`, kind.manifest.digest, kind.manifest);
      expect(res.headers['docker-content-digest']).toBe(kind.manifest.digest);
      expect(locationPath(res.headers.location)).toBe(`/v2/${ns}/app/manifests/${kind.manifest.digest}`);
      await expectManifest(registry(), `/v2/${ns}/app/manifests/${kind.manifest.digest}`, kind.manifest);
      const tags = await registry().request.get(`/v2/${ns}/app/tags/list`);
      expectAnswer(tags, 200);
      expect(tags.body.tags).toEqual([]);
    });
  });

  it('takes a manifest without Content-Type by its mediaType field', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    await pushBlob(registry(), `${ns}/app`, layer);
    const res = await sendBytes(registry().request.put(`/v2/${ns}/app/manifests/latest`), imageA.bytes);
    expectAnswer(res, 201);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/latest`, imageA);
  });

  it('is created and served under a sha512 digest', async () => {
    for (const blob of [config, layer]) await pushBlob(registry(), `${ns}/app`, blob);
    const digest512 = digestOf(imageA.bytes, 'sha512');
    const res = await putManifest(registry(), `${ns}/app`, digest512, imageA.bytes, imageA.mediaType);
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(digest512);
    const pulled = await asBytes(registry().request.get(`/v2/${ns}/app/manifests/${digest512}`));
    expectAnswer(pulled, 200);
    expect(pulled.headers['docker-content-digest']).toBe(digest512);
    expect((pulled.body as Buffer).equals(imageA.bytes)).toBe(true);
  });

  it('keeps the bare media type of a Content-Type with parameters', async () => {
    for (const blob of [config, layer]) await pushBlob(registry(), `${ns}/app`, blob);
    const res = await putManifest(registry(), `${ns}/app`, 'v1', imageA.bytes, `${imageA.mediaType}; charset=utf-8`);
    expectAnswer(res, 201);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/v1`, imageA);
  });

  it('moves a tag to the newest manifest pushed under it', async () => {
    for (const blob of [config, otherConfig, layer]) await pushBlob(registry(), `${ns}/app`, blob);
    await pushManifest(registry(), `${ns}/app`, 'latest', imageA);
    await pushManifest(registry(), `${ns}/app`, 'latest', imageB);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/latest`, imageB);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/${imageA.digest}`, imageA);
  });

  it('serves one manifest under several tags', async () => {
    for (const blob of [config, layer]) await pushBlob(registry(), `${ns}/app`, blob);
    await pushManifest(registry(), `${ns}/app`, 'v1', imageA);
    await pushManifest(registry(), `${ns}/app`, 'stable', imageA);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/v1`, imageA);
    await expectManifest(registry(), `/v2/${ns}/app/manifests/stable`, imageA);
  });

  it('does not serve a manifest from a repository it was not pushed to', async () => {
    for (const blob of [config, layer]) await pushBlob(registry(), `${ns}/app`, blob);
    await pushManifest(registry(), `${ns}/app`, 'v1', imageA);
    const res = await registry().request.get(`/v2/${ns}/other/manifests/${imageA.digest}`);
    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('MANIFEST_UNKNOWN');
  });

  it('accepts a foreign layer with urls without its blob being pushed', async () => {
    await pushBlob(registry(), `${ns}/app`, config);
    const foreign = {
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: config.digest, size: config.size },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          digest: blobOf('windows base layer').digest,
          size: 18,
          urls: ['https://example.invalid/layer'],
        },
      ],
    };
    const res = await putManifest(registry(), `${ns}/app`, 'windows', Buffer.from(JSON.stringify(foreign)), MEDIA.dockerManifest);
    expectAnswer(res, 201);
  });
});
