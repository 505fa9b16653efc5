// Cross-repository mount (end-11): 201 when the source repository holds the blob; otherwise the
// registry falls back to an ordinary upload session and answers 202 (distribution-spec
// "Mounting a blob from another repository").
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes, locationPath, withQuery } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { blobOf } from '../helpers/content.js';

const blob = blobOf('a layer shared between repositories');

describe.each(DRIVERS)('mounting a blob from another repository ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  it('answers 201 with Location and Docker-Content-Digest, and the blob is served from the target', async () => {
    await pushBlob(registry(), `${ns}/source`, blob);
    const res = await registry().request.post(`/v2/${ns}/target/blobs/uploads/?mount=${blob.digest}&from=${ns}/source`);
    expectAnswer(res, 201);
    expect(locationPath(res.headers.location)).toBe(`/v2/${ns}/target/blobs/${blob.digest}`);
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect(res.headers['content-length']).toBe('0');
    const pulled = await asBytes(registry().request.get(`/v2/${ns}/target/blobs/${blob.digest}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).equals(blob.bytes)).toBe(true);
  });

  it('answers 202 with an upload session when the source does not hold the blob', async () => {
    await pushBlob(registry(), `${ns}/elsewhere`, blob);
    const res = await registry().request.post(`/v2/${ns}/target/blobs/uploads/?mount=${blob.digest}&from=${ns}/source`);
    expectAnswer(res, 202);
    expect(res.headers['docker-upload-uuid']).toMatch(/^[0-9a-f-]{36}$/);
    expectError(await registry().request.head(`/v2/${ns}/target/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
    const upload = locationPath(res.headers.location);
    const done = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .send(blob.bytes);
    expectAnswer(done, 201);
  });

  it('answers 202 with an upload session when from is missing', async () => {
    await pushBlob(registry(), `${ns}/source`, blob);
    const res = await registry().request.post(`/v2/${ns}/target/blobs/uploads/?mount=${blob.digest}`);
    expectAnswer(res, 202);
    expect(locationPath(res.headers.location)).toMatch(new RegExp(`^/v2/${ns}/target/blobs/uploads/[0-9a-f-]{36}$`));
    expectError(await registry().request.head(`/v2/${ns}/target/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
  });

  it('answers 202 when from is not a valid repository name', async () => {
    await pushBlob(registry(), `${ns}/source`, blob);
    const res = await registry().request.post(`/v2/${ns}/target/blobs/uploads/?mount=${blob.digest}&from=../${ns}/source`);
    expectAnswer(res, 202);
    expectError(await registry().request.head(`/v2/${ns}/target/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
  });

  it('answers 400 DIGEST_INVALID for a malformed mount digest', async () => {
    const res = await registry().request.post(`/v2/${ns}/target/blobs/uploads/?mount=sha256:nope&from=${ns}/source`);
    expectError(res, 400, 'DIGEST_INVALID');
  });
});
