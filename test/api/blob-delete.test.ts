// Deleting blobs (end-10): 202 and the blob is gone from that repository; 405 when disabled.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { putManifest } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { blobOf, ociManifest } from '../helpers/content.js';

const blob = blobOf('a layer to delete');

describe.each(DRIVERS)('deleting a blob ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('answers 202 with Docker-Content-Digest and the blob is then unknown', async () => {
    await pushBlob(registry(), 'library/alpine', blob);
    const res = await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`);
    expectAnswer(res, 202);
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect(res.headers['content-length']).toBe('0');
    const after = await registry().request.get(`/v2/library/alpine/blobs/${blob.digest}`);
    expectError(after, 404, 'BLOB_UNKNOWN');
  });

  it('leaves the same blob in other repositories alone', async () => {
    await pushBlob(registry(), 'library/alpine', blob);
    await pushBlob(registry(), 'library/busybox', blob);
    await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`);
    const other = await registry().request.head(`/v2/library/busybox/blobs/${blob.digest}`);
    expectAnswer(other, 200);
  });

  it('makes a manifest naming the deleted blob fail with MANIFEST_BLOB_UNKNOWN', async () => {
    const config = blobOf('{"config":true}');
    await pushBlob(registry(), 'library/alpine', config);
    await pushBlob(registry(), 'library/alpine', blob);
    // A pull first, so a cached "the repository holds it" would show.
    expectAnswer(await registry().request.head(`/v2/library/alpine/blobs/${blob.digest}`), 200);
    expectAnswer(await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`), 202);
    const manifest = ociManifest(config, [blob]);
    const res = await putManifest(registry(), 'library/alpine', 'v1', manifest.bytes, manifest.mediaType);
    expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('can be undone by pushing the blob again', async () => {
    await pushBlob(registry(), 'library/alpine', blob);
    expectAnswer(await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`), 202);
    await pushBlob(registry(), 'library/alpine', blob);
    expectAnswer(await registry().request.head(`/v2/library/alpine/blobs/${blob.digest}`), 200);
  });

  it('answers 404 BLOB_UNKNOWN for a blob the repository does not hold', async () => {
    const res = await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`);
    expectError(res, 404, 'BLOB_UNKNOWN');
  });

  it('answers 400 DIGEST_INVALID for a malformed digest', async () => {
    const res = await registry().request.delete('/v2/library/alpine/blobs/sha256:xyz');
    expectError(res, 400, 'DIGEST_INVALID');
  });
});

describe.each(DRIVERS)('deleting a blob with deletes disabled ($name)', (factory) => {
  const registry = useTestRegistry(factory, { config: { storage: { delete: { enabled: false } } } });

  it('answers 405 UNSUPPORTED and keeps the blob', async () => {
    await pushBlob(registry(), 'library/alpine', blob);
    const res = await registry().request.delete(`/v2/library/alpine/blobs/${blob.digest}`);
    expectError(res, 405, 'UNSUPPORTED');
    const after = await registry().request.head(`/v2/library/alpine/blobs/${blob.digest}`);
    expectAnswer(after, 200);
  });
});
