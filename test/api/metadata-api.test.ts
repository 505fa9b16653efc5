// The JSON API over the metadata database (/api/v1/, server/routes/api.ts) on SQLite and
// PostgreSQL: repositories with size, counts and last push; tags with what they point at and
// their pulls; one image's details; pages with a next link; the spec's JSON errors. Pulls are
// counted for manifest GETs whichever way they are answered (Koa route or fast path), never for
// a HEAD or for reading the API.
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushBlob, pushImage, pushIndex, pushManifest } from '../helpers/images.js';
import { blobOf, ociArtifact, ociManifest, randomBlob } from '../helpers/content.js';
import { expectError } from '../helpers/expect-answer.js';

async function api(reg: TestRegistry, path: string) {
  const res = await reg.request.get(path);
  expect(res.status, `${path}: ${res.text}`).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  return res;
}

/** An image whose config says when it was built and for which platform. */
async function pushBuiltImage(reg: TestRegistry, name: string, tag: string, seed: number) {
  const config = blobOf(JSON.stringify({ architecture: 'arm64', variant: 'v8', os: 'linux', created: '2024-05-01T10:00:00Z', seed }));
  const layers = [randomBlob(3000, seed), randomBlob(500, seed + 1000)];
  const manifest = ociManifest(config, layers, { annotations: { 'org.opencontainers.image.title': `image ${seed}` } });
  for (const blob of [config, ...layers]) await pushBlob(reg, name, blob);
  await pushManifest(reg, name, tag, manifest);
  return { config, layers, manifest };
}

describe.each(DATABASE_KINDS)('the metadata API on $name', (kind) => {
  const registry = useTestRegistry(filesystemDriverFactory, { database: kind.name });

  it('lists repositories with size, tag and manifest counts and last push, a page at a time', async () => {
    const reg = registry();
    const before = Date.now();
    const a = await pushBuiltImage(reg, 'team/app', 'v1', 1);
    // A second image sharing the first's layers: they count once in the repository's size.
    const config = blobOf('{"os":"linux","architecture":"amd64"}');
    const b = ociManifest(config, a.layers);
    await pushBlob(reg, 'team/app', config);
    await pushManifest(reg, 'team/app', 'v2', b);
    await pushImage(reg, 'team/api', 'latest', { seed: 3 });
    await pushImage(reg, 'tools/lint', 'latest', { seed: 4 });

    const all = (await api(reg, '/api/v1/repositories')).body;
    expect(all.repositories.map((r: { name: string }) => r.name)).toEqual(['team/api', 'team/app', 'tools/lint']);
    expect(all.next).toBeNull();
    const app = all.repositories[1];
    const expectedSize = a.manifest.size + b.size + a.config.size + config.size + a.layers[0].size + a.layers[1].size;
    expect(app).toMatchObject({ name: 'team/app', tags: 2, manifests: 2, size: expectedSize });
    expect(Date.parse(app.lastPushed)).toBeGreaterThanOrEqual(before - 1000);

    const first = await api(reg, '/api/v1/repositories?n=2');
    expect(first.body.repositories.map((r: { name: string }) => r.name)).toEqual(['team/api', 'team/app']);
    expect(first.body.next).toBe('/api/v1/repositories?n=2&last=team%2Fapp');
    expect(first.headers.link).toBe('</api/v1/repositories?n=2&last=team%2Fapp>; rel="next"');
    const second = await api(reg, first.body.next);
    expect(second.body).toMatchObject({ repositories: [{ name: 'tools/lint' }], next: null });

    expect((await api(reg, '/api/v1/repositories?prefix=team/')).body.repositories.map((r: { name: string }) => r.name)).toEqual([
      'team/api',
      'team/app',
    ]);
    const searched = await api(reg, '/api/v1/repositories?q=a&n=1&prefix=team/');
    expect(searched.body.next).toBe('/api/v1/repositories?prefix=team%2F&q=a&n=1&last=team%2Fapi');
    expect((await api(reg, '/api/v1/repositories?q=lin')).body.repositories.map((r: { name: string }) => r.name)).toEqual(['tools/lint']);
    expect((await api(reg, '/api/v1/repositories/team/app')).body).toEqual({ ...app, actions: { pull: true, push: true, delete: true } });
    expectError(await reg.request.get('/api/v1/repositories/team'), 404, 'NAME_UNKNOWN');
  });

  it('lists tags with digest, size, platforms, created, push and pull times', async () => {
    const reg = registry();
    const image = await pushBuiltImage(reg, 'team/app', 'v1', 5);
    await pushManifest(reg, 'team/app', 'latest', image.manifest);
    const other = await pushImage(reg, 'team/app', 'v0', { seed: 6 });

    // Two pulls of latest: the first through the Koa route (a query string keeps it off the fast
    // path), the second from the fast path; a HEAD and a pull by digest.
    reg.storage.cache.clear();
    expect((await reg.request.get('/v2/team/app/manifests/latest?x=1')).status).toBe(200);
    expect((await reg.request.get('/v2/team/app/manifests/latest')).status).toBe(200);
    expect((await reg.request.get('/metrics')).text).toMatch(/^stowage_manifest_fast_path_total 1$/m);
    expect((await reg.request.head('/v2/team/app/manifests/latest')).status).toBe(200);
    expect((await reg.request.get(`/v2/team/app/manifests/${other.manifest.digest}`)).status).toBe(200);
    await reg.storage.pulls!.flush();

    const res = await api(reg, '/api/v1/tags/team/app');
    expect(res.body.name).toBe('team/app');
    expect(res.body.next).toBeNull();
    const [latest, v0, v1] = res.body.tags;
    expect(res.body.tags.map((t: { tag: string }) => t.tag)).toEqual(['latest', 'v0', 'v1']);
    expect(latest).toMatchObject({
      tag: 'latest',
      digest: image.manifest.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.oci.image.config.v1+json',
      size: image.manifest.size + image.config.size + image.layers[0].size + image.layers[1].size,
      platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }],
      created: '2024-05-01T10:00:00Z',
      pushedBy: null,
      pulls: 2,
    });
    expect(Date.parse(latest.lastPulled)).toBeGreaterThanOrEqual(Date.parse(latest.pushed));
    expect(v1).toMatchObject({ tag: 'v1', digest: image.manifest.digest, pulls: 0, lastPulled: null });
    // Pulled by digest: the manifest's count, not the tag's.
    expect(v0).toMatchObject({ tag: 'v0', pulls: 0 });
    const byDigest = await api(reg, `/api/v1/images/team/app/${other.manifest.digest}`);
    expect(byDigest.body).toMatchObject({ pulls: 1, tag: null });

    const paged = await api(reg, '/api/v1/tags/team/app?n=1&last=latest');
    expect(paged.body.tags.map((t: { tag: string }) => t.tag)).toEqual(['v0']);
    expect(paged.body.next).toBe('/api/v1/tags/team/app?n=1&last=v0');
    // Reading the API is not a pull.
    await reg.storage.pulls!.flush();
    expect((await api(reg, '/api/v1/tags/team/app')).body.tags[0].pulls).toBe(2);
  });

  it('writes the pulls still counted in memory when the registry stops', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 12 });
    for (let i = 0; i < 3; i++) expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    expect(reg.storage.pulls!.size).toBe(1);
    await reg.restart();
    expect((await api(reg, '/api/v1/tags/team/app')).body.tags).toMatchObject([{ tag: 'v1', pulls: 3 }]);
  });

  it('shows one image by tag or digest: config, layers in order, annotations, referrers', async () => {
    const reg = registry();
    const image = await pushBuiltImage(reg, 'team/app', 'v1', 7);
    const signature = ociArtifact('application/vnd.example.signature', [randomBlob(64, 70)], image.manifest.descriptor, { signed: 'yes' });
    for (const blob of [blobOf('{}'), randomBlob(64, 70)]) await pushBlob(reg, 'team/app', blob);
    await pushManifest(reg, 'team/app', signature.digest, signature);

    const res = await api(reg, '/api/v1/images/team/app/v1');
    expect(res.body).toMatchObject({
      name: 'team/app',
      digest: image.manifest.digest,
      manifestSize: image.manifest.size,
      platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }],
      created: '2024-05-01T10:00:00Z',
      tag: { name: 'v1', pulls: 0, lastPulled: null },
      tags: ['v1'],
      config: { digest: image.config.digest, size: image.config.size, mediaType: 'application/vnd.oci.image.config.v1+json' },
      layers: image.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })),
      children: [],
      subject: null,
      annotations: { 'org.opencontainers.image.title': 'image 7' },
      referrers: [{ digest: signature.digest, artifactType: 'application/vnd.example.signature', annotations: { signed: 'yes' } }],
    });
    const bySignature = await api(reg, `/api/v1/images/team/app/${encodeURIComponent(signature.digest)}`);
    expect(bySignature.body).toMatchObject({ subject: image.manifest.digest, artifactType: 'application/vnd.example.signature', tags: [] });
  });

  it('shows an index with its children, their platforms and total sizes', async () => {
    const reg = registry();
    const amd = await pushImage(reg, 'multi', 'amd64', { seed: 8 });
    const arm = await pushImage(reg, 'multi', 'arm64', { seed: 9 });
    const index = await pushIndex(reg, 'multi', 'latest', [amd.manifest, arm.manifest]);
    const res = await api(reg, '/api/v1/images/multi/latest');
    expect(res.body).toMatchObject({
      digest: index.digest,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: index.size + amd.manifest.size + arm.manifest.size,
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      config: null,
      layers: [],
      children: [
        {
          digest: amd.manifest.digest,
          size: amd.manifest.size,
          platform: { os: 'linux', architecture: 'amd64' },
          totalSize: amd.manifest.size + amd.config.size + amd.layers[0].size,
        },
        { digest: arm.manifest.digest, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    });
  });

  it('answers the spec JSON errors: bad names, unknown repositories and references, bad n', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 10 });
    expectError(await reg.request.get('/api/v1/tags/team%2Fapp'), 400, 'NAME_INVALID');
    expectError(await reg.request.get('/api/v1/tags/../etc'), 400, 'NAME_INVALID');
    expectError(await reg.request.get('/api/v1/tags/nobody/here'), 404, 'NAME_UNKNOWN');
    expectError(await reg.request.get('/api/v1/images/nobody/v1'), 404, 'NAME_UNKNOWN');
    expectError(await reg.request.get('/api/v1/images/team/app/v2'), 404, 'MANIFEST_UNKNOWN');
    expectError(await reg.request.get(`/api/v1/images/team/app/sha256:${'0'.repeat(64)}`), 404, 'MANIFEST_UNKNOWN');
    expectError(await reg.request.get('/api/v1/images/team/app/bad:tag'), 404, 'MANIFEST_UNKNOWN');
    expectError(await reg.request.get('/api/v1/repositories?n=x'), 400, 'PAGINATION_NUMBER_INVALID');
    // n is capped: one page at most 1000.
    expect((await api(reg, '/api/v1/repositories?n=5000')).body.repositories).toHaveLength(1);
  });
});

describe('the metadata API without a metadata database', () => {
  const registry = useTestRegistry(filesystemDriverFactory, { database: 'none' });

  it('answers UNSUPPORTED', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 11 });
    expectError(await reg.request.get('/api/v1/repositories'), 405, 'UNSUPPORTED');
    expectError(await reg.request.get('/api/v1/tags/team/app'), 405, 'UNSUPPORTED');
    expectError(await reg.request.get('/api/v1/images/team/app/v1'), 405, 'UNSUPPORTED');
    expectError(await reg.request.get('/api/v1/stats'), 405, 'UNSUPPORTED');
    expectError(await reg.request.get(`/api/v1/manifests/team/app/sha256:${'0'.repeat(64)}`), 405, 'UNSUPPORTED');
    // The session needs no database.
    expect((await reg.request.get('/api/v1/session')).body).toMatchObject({ auth: 'none', user: null });
    // Pulls still work, with nothing to count them in.
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    expect(reg.storage.pulls).toBeUndefined();
  });
});
