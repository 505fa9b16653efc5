// The JSON API's image page for the web UI on SQLite and PostgreSQL: the image config (what runs,
// labels, volumes) and its history matched to the layers it made, Docker and OCI alike, none for
// an artifact or an index; the raw manifest and config bytes, with a download name on request;
// none of it counted as a pull; the answers to bad digests, unknown content and huge configs.
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushBlob, pushImage, pushIndex, pushManifest } from '../helpers/images.js';
import { MEDIA, blobOf, dockerManifest, ociArtifact, ociManifest, randomBlob, EMPTY_CONFIG } from '../helpers/content.js';
import { asBytes } from '../helpers/registry-client.js';
import { expectError } from '../helpers/expect-answer.js';
import { MAX_CONFIG_BYTES } from '../../storage/image-config.js';

const BUILT = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-06-01T12:00:00Z',
  author: 'builder@example.com',
  config: {
    Entrypoint: ['/bin/server'],
    Cmd: ['--port', '8080'],
    Env: ['PATH=/usr/bin', 'MODE=prod'],
    ExposedPorts: { '8080/tcp': {}, '9090/udp': {} },
    WorkingDir: '/srv',
    User: 'app',
    Labels: { 'org.opencontainers.image.source': 'https://example.com/app', ['__proto__']: 'a label', bad: 7 },
    Volumes: { '/data': {} },
  },
  rootfs: { type: 'layers', diff_ids: [] },
  history: [
    { created: '2024-06-01T11:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:base in /' },
    { created: '2024-06-01T11:01:00Z', created_by: '/bin/sh -c #(nop) ENV MODE=prod', empty_layer: true },
    { created: '2024-06-01T11:02:00Z', created_by: 'RUN make install', comment: 'buildkit.dockerfile.v0' },
    { created: '2024-06-01T11:03:00Z', created_by: 'CMD ["--port" "8080"]', empty_layer: true },
  ],
};

async function api(reg: TestRegistry, path: string) {
  const res = await reg.request.get(path);
  expect(res.status, `${path}: ${res.text}`).toBe(200);
  return res;
}

/** An image whose config is the given document, pushed under tag in the given format. */
async function pushConfigured(reg: TestRegistry, name: string, tag: string, doc: unknown, format: 'oci' | 'docker' = 'oci') {
  const config = blobOf(JSON.stringify(doc));
  const layers = [randomBlob(2000, 1), randomBlob(3000, 2)];
  const manifest = format === 'docker' ? dockerManifest(config, layers) : ociManifest(config, layers);
  for (const blob of [config, ...layers]) await pushBlob(reg, name, blob);
  await pushManifest(reg, name, tag, manifest);
  return { config, layers, manifest };
}

describe.each(DATABASE_KINDS)('the web UI image page on $name', (kind) => {
  const registry = useTestRegistry(filesystemDriverFactory, { database: kind.name });

  it.each(['oci', 'docker'] as const)('shows a %s image config with each layer matched to the history entry that made it', async (format) => {
    const reg = registry();
    const image = await pushConfigured(reg, 'team/app', 'v1', BUILT, format);
    const body = (await api(reg, '/api/v1/images/team/app/v1')).body;
    expect(body.image).toEqual({
      created: '2024-06-01T12:00:00Z',
      author: 'builder@example.com',
      os: 'linux',
      architecture: 'amd64',
      variant: null,
      entrypoint: ['/bin/server'],
      cmd: ['--port', '8080'],
      env: ['PATH=/usr/bin', 'MODE=prod'],
      exposedPorts: ['8080/tcp', '9090/udp'],
      workingDir: '/srv',
      user: 'app',
      labels: JSON.parse('{"org.opencontainers.image.source":"https://example.com/app","__proto__":"a label"}'),
      volumes: ['/data'],
      history: [
        { created: '2024-06-01T11:00:00Z', createdBy: '/bin/sh -c #(nop) ADD file:base in /', comment: null, emptyLayer: false, layer: 0 },
        { created: '2024-06-01T11:01:00Z', createdBy: '/bin/sh -c #(nop) ENV MODE=prod', comment: null, emptyLayer: true, layer: null },
        { created: '2024-06-01T11:02:00Z', createdBy: 'RUN make install', comment: 'buildkit.dockerfile.v0', emptyLayer: false, layer: 1 },
        { created: '2024-06-01T11:03:00Z', createdBy: 'CMD ["--port" "8080"]', comment: null, emptyLayer: true, layer: null },
      ],
    });
    expect(body.layers).toEqual([
      {
        digest: image.layers[0].digest,
        size: 2000,
        mediaType: format === 'oci' ? MEDIA.ociLayer : MEDIA.dockerLayer,
        createdBy: '/bin/sh -c #(nop) ADD file:base in /',
      },
      { digest: image.layers[1].digest, size: 3000, mediaType: format === 'oci' ? MEDIA.ociLayer : MEDIA.dockerLayer, createdBy: 'RUN make install' },
    ]);
  });

  it('matches what it can when history and layers disagree, and shows no config for artifacts and indexes', async () => {
    const reg = registry();
    // One history entry for two layers: the second layer has no command; a config without "config".
    await pushConfigured(reg, 'team/app', 'short', { os: 'linux', architecture: 'arm64', variant: 'v8', history: [{ created_by: 'ADD one' }] });
    const short = (await api(reg, '/api/v1/images/team/app/short')).body;
    expect(short.image).toMatchObject({
      variant: 'v8',
      entrypoint: null,
      cmd: null,
      env: [],
      labels: {},
      history: [{ createdBy: 'ADD one', layer: 0 }],
    });
    expect(short.layers.map((l: { createdBy: string | null }) => l.createdBy)).toEqual(['ADD one', null]);
    // More history than layers: the extra entry names no layer.
    const extra = { history: [{ created_by: 'a' }, { created_by: 'b' }, { created_by: 'c' }] };
    await pushConfigured(reg, 'team/app', 'long', extra);
    expect((await api(reg, '/api/v1/images/team/app/long')).body.image.history.map((h: { layer: number | null }) => h.layer)).toEqual([0, 1, null]);
    // Not JSON at all: no image, the layers without commands.
    await pushConfigured(reg, 'team/app', 'broken', 'not an object');
    expect((await api(reg, '/api/v1/images/team/app/broken')).body).toMatchObject({
      image: null,
      layers: [{ createdBy: null }, { createdBy: null }],
    });

    const subject = await pushImage(reg, 'team/app', 'plain', { seed: 3 });
    const sbom = ociArtifact('application/spdx+json', [randomBlob(100, 4)], subject.manifest.descriptor);
    for (const blob of [EMPTY_CONFIG, randomBlob(100, 4)]) await pushBlob(reg, 'team/app', blob);
    await pushManifest(reg, 'team/app', sbom.digest, sbom);
    expect((await api(reg, `/api/v1/images/team/app/${sbom.digest}`)).body).toMatchObject({ image: null, artifactType: 'application/spdx+json' });
    await pushIndex(reg, 'team/app', 'multi', [subject.manifest]);
    expect((await api(reg, '/api/v1/images/team/app/multi')).body).toMatchObject({ image: null, layers: [] });
  });

  it('serves the raw manifest and config, with a download name on request, and counts no pull', async () => {
    const reg = registry();
    const image = await pushConfigured(reg, 'team/app', 'v1', BUILT);
    const manifest = await asBytes(reg.request.get(`/api/v1/manifests/team/app/${image.manifest.digest}`));
    expect(manifest.status).toBe(200);
    expect(manifest.body).toEqual(image.manifest.bytes);
    expect(manifest.headers).toMatchObject({
      'content-type': MEDIA.ociManifest,
      'docker-content-digest': image.manifest.digest,
      'x-content-type-options': 'nosniff',
    });
    expect(manifest.headers['content-disposition']).toBeUndefined();
    const download = await asBytes(reg.request.get(`/api/v1/manifests/team/app/${image.manifest.digest}?download=1`));
    expect(download.headers['content-disposition']).toBe(`attachment; filename="${image.manifest.digest.slice('sha256:'.length)}.json"`);

    const config = await asBytes(reg.request.get(`/api/v1/configs/team/app/${encodeURIComponent(image.config.digest)}`));
    expect(config.status).toBe(200);
    expect(config.body).toEqual(image.config.bytes);
    expect(config.headers['content-type']).toBe('application/json');
    expect(config.headers['x-content-type-options']).toBe('nosniff');

    // A real pull, to show the count moves when it should.
    expect((await reg.request.get(`/v2/team/app/manifests/${image.manifest.digest}`)).status).toBe(200);
    await reg.storage.pulls!.flush();
    const shown = (await api(reg, `/api/v1/images/team/app/${image.manifest.digest}`)).body;
    expect(shown.pulls).toBe(1);
    expect((await api(reg, '/api/v1/tags/team/app')).body.tags[0].pulls).toBe(0);
    expect((await api(reg, '/api/v1/repositories/team/app')).body.lastPulled).toBe(shown.lastPulled);
  });

  it('answers bad digests 400, unknown content 404 and a config over 4 MiB 413', async () => {
    const reg = registry();
    const image = await pushConfigured(reg, 'team/app', 'v1', BUILT);
    expectError(await reg.request.get('/api/v1/manifests/team/app/v1'), 400, 'DIGEST_INVALID');
    expectError(await reg.request.get('/api/v1/configs/team/app/sha256:abc'), 400, 'DIGEST_INVALID');
    expectError(await reg.request.get(`/api/v1/manifests/team/app/sha256:${'0'.repeat(64)}`), 404, 'MANIFEST_UNKNOWN');
    expectError(await reg.request.get(`/api/v1/manifests/nobody/here/${image.manifest.digest}`), 404, 'NAME_UNKNOWN');
    expectError(await reg.request.get(`/api/v1/configs/nobody/here/${image.config.digest}`), 404, 'NAME_UNKNOWN');
    // A blob the repository holds but no manifest references, and one another repository references.
    const loose = blobOf('{"loose":true}');
    await pushBlob(reg, 'team/app', loose);
    expectError(await reg.request.get(`/api/v1/configs/team/app/${loose.digest}`), 404, 'BLOB_UNKNOWN');
    await pushImage(reg, 'team/other', 'v1', { seed: 9 });
    const otherConfig = (await api(reg, '/api/v1/images/team/other/v1')).body.config.digest;
    expectError(await reg.request.get(`/api/v1/configs/team/app/${otherConfig}`), 404, 'BLOB_UNKNOWN');

    const huge = blobOf(JSON.stringify({ os: 'linux', architecture: 'amd64', padding: 'x'.repeat(MAX_CONFIG_BYTES) }));
    const layer = randomBlob(100, 5);
    const hugeImage = ociManifest(huge, [layer]);
    for (const blob of [huge, layer]) await pushBlob(reg, 'team/app', blob);
    await pushManifest(reg, 'team/app', 'huge', hugeImage);
    expectError(await reg.request.get(`/api/v1/configs/team/app/${huge.digest}`), 413, 'UNSUPPORTED');
    expect((await api(reg, '/api/v1/images/team/app/huge')).body).toMatchObject({
      image: null,
      config: { digest: huge.digest },
      layers: [{ createdBy: null }],
    });
  });
});
