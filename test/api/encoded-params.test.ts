// Percent-encoded tags, digests and upload ids in the path: decoded once, as Distribution does
// (`/blobs/sha256%3A<hex>` and `/manifests/v%31` name `sha256:<hex>` and `v1`), by the router and
// the manifest fast path alike. Repository names are not decoded: an encoded "/" there is refused.
// Requests go out byte for byte (rawRequest), so no client normalises the encoding away.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { rawRequest, startUpload, type RawAnswer } from '../helpers/registry-client.js';
import { pushImage } from '../helpers/images.js';
import { MEDIA } from '../helpers/content.js';

function withText(res: RawAnswer) {
  return { ...res, text: res.body.toString() };
}

/** "sha256:abc" as "sha256%3Aabc". */
function encodedDigest(digest: string): string {
  return digest.replace(':', '%3A');
}

async function fastPathAnswers(reg: TestRegistry): Promise<number> {
  const m = /^stowage_manifest_fast_path_total (\d+)$/m.exec((await reg.request.get('/metrics')).text);
  return Number(m?.[1] ?? 0);
}

describe.each(DRIVERS)('percent-encoded path parameters ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('serves a blob by an encoded digest (GET, HEAD, lower-case %3a)', async () => {
    const reg = registry();
    const { layers } = await pushImage(reg, 'library/app', 'v1', { seed: 61 });
    const [layer] = layers;
    const got = await rawRequest(reg.port, 'GET', `/v2/library/app/blobs/${encodedDigest(layer.digest)}`);
    expectAnswer(got, 200);
    expect(got.body.equals(layer.bytes)).toBe(true);
    expect(got.headers['docker-content-digest']).toBe(layer.digest);
    expectAnswer(await rawRequest(reg.port, 'HEAD', `/v2/library/app/blobs/${layer.digest.replace(':', '%3a')}`), 200);
  });

  it('serves a manifest by an encoded tag and digest, from storage and from the fast path alike', async () => {
    const reg = registry();
    const { manifest } = await pushImage(reg, 'library/app', 'v1', { seed: 62 });
    for (const reference of ['v%31', '%76%31', encodedDigest(manifest.digest)]) {
      const path = `/v2/library/app/manifests/${reference}`;
      reg.storage.cache.clear();
      const before = await fastPathAnswers(reg);
      const viaKoa = await rawRequest(reg.port, 'GET', path);
      expectAnswer(viaKoa, 200);
      expect(viaKoa.body.equals(manifest.bytes)).toBe(true);
      expect(await fastPathAnswers(reg)).toBe(before);
      const viaFastPath = await rawRequest(reg.port, 'GET', path);
      expectAnswer(viaFastPath, 200);
      expect(viaFastPath.body.equals(manifest.bytes)).toBe(true);
      expect(viaFastPath.headers['docker-content-digest']).toBe(manifest.digest);
      expect(await fastPathAnswers(reg)).toBe(before + 1);
    }
  });

  it('pushes and deletes a manifest under an encoded tag and digest', async () => {
    const reg = registry();
    const { manifest } = await pushImage(reg, 'library/app', 'v1', { seed: 63 });
    const put = await rawRequest(reg.port, 'PUT', '/v2/library/app/manifests/v%32', {
      headers: { 'Content-Type': MEDIA.ociManifest, 'Content-Length': String(manifest.size) },
      chunks: [manifest.bytes],
    });
    expectAnswer(put, 201);
    expect((await reg.request.get('/v2/library/app/tags/list')).body.tags).toEqual(['v1', 'v2']);
    expectAnswer(await rawRequest(reg.port, 'DELETE', '/v2/library/app/manifests/v%32'), 202);
    expectAnswer(await rawRequest(reg.port, 'DELETE', `/v2/library/app/manifests/${encodedDigest(manifest.digest)}`), 202);
    expectError(await reg.request.get('/v2/library/app/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  });

  it('reaches an upload by an encoded id', async () => {
    const reg = registry();
    const upload = await startUpload(reg, 'library/app');
    const res = await rawRequest(reg.port, 'GET', upload.replace(/-/g, '%2D'));
    expectAnswer(res, 204);
    expect(res.headers['docker-upload-uuid']).toBe(upload.split('/').pop());
  });

  it('decodes only once: a double-encoded tag or digest is not a tag or digest', async () => {
    const reg = registry();
    const { manifest, layers } = await pushImage(reg, 'library/app', 'v1', { seed: 64 });
    expectError(withText(await rawRequest(reg.port, 'GET', '/v2/library/app/manifests/v%2531')), 404, 'MANIFEST_UNKNOWN');
    expectError(
      withText(await rawRequest(reg.port, 'GET', `/v2/library/app/manifests/${manifest.digest.replace(':', '%253A')}`)),
      404,
      'MANIFEST_UNKNOWN',
    );
    expectError(
      withText(await rawRequest(reg.port, 'GET', `/v2/library/app/blobs/${layers[0].digest.replace(':', '%253A')}`)),
      400,
      'DIGEST_INVALID',
    );
  });

  it('answers an invalid encoding with the error of a malformed tag or digest', async () => {
    const reg = registry();
    const { manifest } = await pushImage(reg, 'library/app', 'v1', { seed: 65 });
    expectError(withText(await rawRequest(reg.port, 'GET', '/v2/library/app/blobs/sha256%3A%ZZ')), 400, 'DIGEST_INVALID');
    expectError(withText(await rawRequest(reg.port, 'GET', '/v2/library/app/manifests/v%E0%A4')), 404, 'MANIFEST_UNKNOWN');
    expectError(withText(await rawRequest(reg.port, 'GET', '/v2/library/app/referrers/sha256%3A%')), 400, 'DIGEST_INVALID');
    expectError(withText(await rawRequest(reg.port, 'GET', '/v2/library/app/blobs/uploads/%ZZ')), 404, 'BLOB_UPLOAD_UNKNOWN');
    const put = await rawRequest(reg.port, 'PUT', '/v2/library/app/manifests/v%C0%AF', {
      headers: { 'Content-Type': MEDIA.ociManifest, 'Content-Length': String(manifest.size) },
      chunks: [manifest.bytes],
    });
    expectError(withText(put), 400, 'TAG_INVALID');
  });

  it('still refuses an encoded slash or dot in the repository name', async () => {
    const reg = registry();
    await pushImage(reg, 'library/app', 'v1', { seed: 66 });
    for (const name of ['library%2Fapp', 'library%2fapp', 'library/%61pp', '%2E%2E/library/app']) {
      expectError(withText(await rawRequest(reg.port, 'GET', `/v2/${name}/manifests/v1`)), 400, 'NAME_INVALID');
    }
  });
});
