// Monolithic uploads: POST with ?digest= (end-4b) and POST then PUT (end-4a, end-6), including
// digests that do not match and sha512.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes, locationPath, withQuery } from '../helpers/registry-client.js';
import { blobOf, randomBlob } from '../helpers/content.js';
import { blobDataKey } from '../../storage/layout.js';
import { NotFoundError } from '../../storage/errors.js';

describe.each(DRIVERS)('a monolithic upload ($name)', (factory) => {
  const registry = useTestRegistry(factory);
  const blob = randomBlob(300_000, 3);

  it('in one POST with ?digest= answers 201 with Location and Docker-Content-Digest', async () => {
    const res = await registry()
      .request.post(`/v2/library/alpine/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expectAnswer(res, 201);
    expect(locationPath(res.headers.location)).toBe(`/v2/library/alpine/blobs/${blob.digest}`);
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect(res.headers['content-length']).toBe('0');
    const pulled = await asBytes(registry().request.get(`/v2/library/alpine/blobs/${blob.digest}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).equals(blob.bytes)).toBe(true);
  });

  it('as POST then PUT with the body answers 202 with an upload Location, then 201', async () => {
    const started = await registry().request.post('/v2/library/alpine/blobs/uploads/');
    expectAnswer(started, 202);
    expect(started.headers['content-length']).toBe('0');
    expect(started.headers['docker-upload-uuid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(started.headers.range).toBe('0-0');
    const upload = locationPath(started.headers.location);
    expect(upload).toBe(`/v2/library/alpine/blobs/uploads/${started.headers['docker-upload-uuid']}`);

    const res = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expectAnswer(res, 201);
    expect(locationPath(res.headers.location)).toBe(`/v2/library/alpine/blobs/${blob.digest}`);
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    const head = await registry().request.head(`/v2/library/alpine/blobs/${blob.digest}`);
    expectAnswer(head, 200);
    expect(head.headers['content-length']).toBe(String(blob.size));
  });

  it('accepts an empty blob', async () => {
    const empty = blobOf('');
    const res = await registry().request.post(`/v2/library/alpine/blobs/uploads/?digest=${empty.digest}`);
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(empty.digest);
  });

  it('with a digest that does not match answers 400 DIGEST_INVALID and stores no blob', async () => {
    const claimed = blobOf('something else').digest;
    const res = await registry()
      .request.post(`/v2/library/alpine/blobs/uploads/?digest=${claimed}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expectError(res, 400, 'DIGEST_INVALID');
    for (const digest of [claimed, blob.digest]) {
      expectError(await registry().request.head(`/v2/library/alpine/blobs/${digest}`), 404, 'BLOB_UNKNOWN', { head: true });
      await expect(registry().storage.driver.stat(blobDataKey(digest))).rejects.toBeInstanceOf(NotFoundError);
    }
  });

  it('finished by PUT with a digest that does not match answers 400 DIGEST_INVALID and stores no blob', async () => {
    const started = await registry().request.post('/v2/library/alpine/blobs/uploads/');
    const claimed = blobOf('other').digest;
    const res = await registry()
      .request.put(withQuery(locationPath(started.headers.location), 'digest', claimed))
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expectError(res, 400, 'DIGEST_INVALID');
    expectError(await registry().request.head(`/v2/library/alpine/blobs/${claimed}`), 404, 'BLOB_UNKNOWN', { head: true });
    expectError(await registry().request.head(`/v2/library/alpine/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
    await expect(registry().storage.driver.stat(blobDataKey(blob.digest))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers 400 DIGEST_INVALID for a malformed ?digest=', async () => {
    const res = await registry().request.post('/v2/library/alpine/blobs/uploads/?digest=sha256:1234').send(blob.bytes);
    expectError(res, 400, 'DIGEST_INVALID');
  });

  it('finished by PUT without ?digest= answers 400 DIGEST_INVALID', async () => {
    const started = await registry().request.post('/v2/library/alpine/blobs/uploads/');
    const res = await registry().request.put(locationPath(started.headers.location)).send(blob.bytes);
    expectError(res, 400, 'DIGEST_INVALID');
  });

  it('verifies and serves a sha512 digest in one POST', async () => {
    const blob512 = blobOf(randomBlob(50_000, 9).bytes, 'sha512');
    const res = await registry()
      .request.post(`/v2/library/alpine/blobs/uploads/?digest=${blob512.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob512.bytes);
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(blob512.digest);
    const pulled = await asBytes(registry().request.get(`/v2/library/alpine/blobs/${blob512.digest}`));
    expectAnswer(pulled, 200);
    expect(pulled.headers['docker-content-digest']).toBe(blob512.digest);
    expect((pulled.body as Buffer).equals(blob512.bytes)).toBe(true);
  });

  it('verifies a sha512 digest on PUT and refuses a wrong one', async () => {
    const blob512 = blobOf('sha512 content', 'sha512');
    const wrong = blobOf('other sha512 content', 'sha512');
    const first = await registry().request.post('/v2/library/alpine/blobs/uploads/');
    const bad = await registry()
      .request.put(withQuery(locationPath(first.headers.location), 'digest', wrong.digest))
      .send(blob512.bytes);
    expectError(bad, 400, 'DIGEST_INVALID');
    const second = await registry().request.post('/v2/library/alpine/blobs/uploads/');
    const good = await registry()
      .request.put(withQuery(locationPath(second.headers.location), 'digest', blob512.digest))
      .send(blob512.bytes);
    expectAnswer(good, 201);
    expect(good.headers['docker-content-digest']).toBe(blob512.digest);
  });
});
