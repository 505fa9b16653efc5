// Referrers of a proxied repository come from upstream, joined with what the cache holds: through
// upstream's referrers API (a stowage upstream), or the referrers tag schema when upstream has no
// API (Distribution 2.8.2, registry:2). Proxied answers carry Via.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_CONFIG, MEDIA, digestOf, ociArtifact, ociIndex, ociManifest, randomBlob, type Manifest } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { pushBlobTo, pushManifestTo, startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { PROXY_VIA } from '../../server/v2/router.js';

let upstream: TestRegistry | undefined;
let reference: ReferenceRegistry | undefined;
let proxy: TestRegistry | undefined;
let dir: string | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  await reference?.stop();
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
  proxy = upstream = reference = dir = undefined;
});

function subjectOf(manifest: Manifest) {
  return { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
}

async function referrersOf(url: string, digest: string, artifactType?: string) {
  const res = await pull(`${url}/v2/hub/team/app/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`);
  const index = JSON.parse(res.body.toString()) as { manifests: Array<{ digest: string; artifactType?: string }> };
  return { status: res.status, headers: res.headers, digests: index.manifests.map((m) => m.digest).sort(), index };
}

describe('referrers through the pull-through proxy', () => {
  it("answers upstream's referrers (its API) joined with the cached ones, filtered by artifactType", async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream, 'team/app', 'v1', { seed: 81 });
    const signature = ociArtifact('application/vnd.dev.cosign.simplesigning.v1+json', [randomBlob(100, 82)], subjectOf(image.manifest));
    const sbom = ociArtifact('application/spdx+json', [randomBlob(120, 83)], subjectOf(image.manifest));
    for (const artifact of [signature, sbom]) {
      for (const blob of [EMPTY_CONFIG, randomBlob(100, 82), randomBlob(120, 83)]) await pushBlob(upstream, 'team/app', blob);
      await pushManifest(upstream, 'team/app', artifact.digest, artifact);
    }
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'hub', remoteurl: upstream.url, ttl: '1ms' }] } },
      cacheTtl: '1ms',
    });

    // Nothing of the artifacts is cached: every referrer comes from upstream.
    const all = await referrersOf(proxy.url, image.manifest.digest);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe(MEDIA.ociIndex);
    expect(all.headers.get('via')).toBe(PROXY_VIA);
    expect(all.digests).toEqual([signature.digest, sbom.digest].sort());
    const filtered = await referrersOf(proxy.url, image.manifest.digest, 'application/spdx+json');
    expect(filtered.digests).toEqual([sbom.digest]);
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');

    // A signature pulled through (now cached) and one only upstream has: each listed once.
    expect((await pull(`${proxy.url}/v2/hub/team/app/manifests/${signature.digest}`)).status).toBe(200);
    const later = ociArtifact('application/vnd.example.attestation', [], subjectOf(image.manifest));
    await pushManifest(upstream, 'team/app', later.digest, later);
    const joined = await referrersOf(proxy.url, image.manifest.digest);
    expect(joined.digests).toEqual([signature.digest, sbom.digest, later.digest].sort());

    // Upstream gone: the cached referrers are still answered.
    await upstream.cleanup();
    upstream = undefined;
    const offline = await referrersOf(proxy.url, image.manifest.digest);
    expect(offline.status).toBe(200);
    expect(offline.digests).toEqual([signature.digest]);
  });

  it('reads the referrers tag schema from an upstream without the referrers API (Distribution 2.8.2)', async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-proxy-referrers-'));
    reference = await startReferenceRegistry(path.join(dir, 'reference'));
    const config = randomBlob(90, 84);
    const layer = randomBlob(300, 85);
    for (const blob of [config, layer, EMPTY_CONFIG]) await pushBlobTo(reference.url, 'team/app', blob);
    const image = ociManifest(config, [layer]);
    await pushManifestTo(reference.url, 'team/app', 'v1', image);
    const signature = ociArtifact('application/vnd.dev.cosign.simplesigning.v1+json', [], subjectOf(image));
    await pushManifestTo(reference.url, 'team/app', signature.digest, signature);
    // What a client does when the registry has no referrers API: an index under <alg>-<hex>.
    const tagIndex = ociIndex([signature]);
    const withArtifactType = JSON.parse(tagIndex.bytes.toString());
    withArtifactType.manifests[0].artifactType = 'application/vnd.dev.cosign.simplesigning.v1+json';
    const bytes = Buffer.from(JSON.stringify(withArtifactType));
    const schemaIndex: Manifest = { ...tagIndex, bytes, digest: digestOf(bytes), size: bytes.length };
    await pushManifestTo(reference.url, 'team/app', image.digest.replace(':', '-'), schemaIndex);
    expect((await pull(`${reference.url}/v2/team/app/referrers/${image.digest}`)).status).toBe(404);

    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'hub', remoteurl: reference.url, ttl: '1ms' }] } },
      cacheTtl: '1ms',
    });
    const found = await referrersOf(proxy.url, image.digest);
    expect(found.status).toBe(200);
    expect(found.index.manifests).toEqual([
      {
        mediaType: MEDIA.ociManifest,
        digest: signature.digest,
        size: signature.size,
        artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      },
    ]);
    expect((await referrersOf(proxy.url, image.digest, 'application/spdx+json')).digests).toEqual([]);
    // A subject with no referrers anywhere: an empty index, not an error.
    const none = await referrersOf(proxy.url, `sha256:${'1'.repeat(64)}`);
    expect(none.status).toBe(200);
    expect(none.digests).toEqual([]);
  });

  it('puts Via on proxied answers only', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream, 'team/app', 'v1', { seed: 86 });
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'hub', remoteurl: upstream.url }] } },
      cacheTtl: '1ms',
    });
    await pushImage(proxy, 'local/app', 'v1', { seed: 87 });
    for (const url of [
      `${proxy.url}/v2/hub/team/app/manifests/v1`,
      `${proxy.url}/v2/hub/team/app/blobs/${image.layers[0].digest}`,
      `${proxy.url}/v2/hub/team/app/tags/list`,
    ]) {
      const res = await pull(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('via'), url).toBe(PROXY_VIA);
    }
    expect((await pull(`${proxy.url}/v2/local/app/manifests/v1`)).headers.get('via')).toBeNull();
    expect((await pull(`${proxy.url}/v2/`)).headers.get('via')).toBeNull();
  });
});
