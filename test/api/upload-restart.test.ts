// Upload state lives in storage: an upload started before a restart (a fresh RegistryStorage on
// the same root, so no running hash in memory) continues and finishes with the right digest,
// which is computed again from the stored bytes.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes, startUpload, withQuery } from '../helpers/registry-client.js';
import { blobOf, digestOf, randomBlob } from '../helpers/content.js';

const blob = randomBlob(200_000, 31);
const first = blob.bytes.subarray(0, 120_000);
const rest = blob.bytes.subarray(120_000);

describe.each(DRIVERS)('an upload across a restart ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  async function startAndSendFirstChunk(): Promise<string> {
    const upload = await startUpload(registry(), 'library/app');
    const res = await registry()
      .request.patch(upload)
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `0-${first.length - 1}`)
      .send(first);
    expectAnswer(res, 202);
    return upload;
  }

  it('reports the same progress after the restart', async () => {
    const upload = await startAndSendFirstChunk();
    await registry().restart();
    const status = await registry().request.get(upload);
    expectAnswer(status, 204);
    expect(status.headers.range).toBe(`0-${first.length - 1}`);
  });

  it('takes the next chunk and finishes with the right digest', async () => {
    const upload = await startAndSendFirstChunk();
    await registry().restart();
    const next = await registry()
      .request.patch(upload)
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${first.length}-${blob.size - 1}`)
      .send(rest);
    expectAnswer(next, 202);
    expect(next.headers.range).toBe(`0-${blob.size - 1}`);
    const done = await registry().request.put(withQuery(upload, 'digest', blob.digest));
    expectAnswer(done, 201);
    expect(done.headers['docker-content-digest']).toBe(blob.digest);
    const pulled = await asBytes(registry().request.get(`/v2/library/app/blobs/${blob.digest}`));
    expect((pulled.body as Buffer).equals(blob.bytes)).toBe(true);
  });

  it('finishes with the last chunk in the PUT', async () => {
    const upload = await startAndSendFirstChunk();
    await registry().restart();
    const done = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .send(rest);
    expectAnswer(done, 201);
    expect(done.headers['docker-content-digest']).toBe(blob.digest);
  });

  it('still refuses a wrong digest after the restart', async () => {
    const upload = await startAndSendFirstChunk();
    await registry().restart();
    const done = await registry()
      .request.put(withQuery(upload, 'digest', blobOf('other').digest))
      .set('Content-Type', 'application/octet-stream')
      .send(rest);
    expectError(done, 400, 'DIGEST_INVALID');
    expectError(await registry().request.head(`/v2/library/app/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
  });

  it('is verified from storage even when the first process had hashed other bytes', async () => {
    // Another process (or a client reusing an id after a restart) may have written the data while
    // this one's running hash saw only part of it: the digest must come from the stored bytes.
    const upload = await startAndSendFirstChunk();
    const id = upload.split('/').pop()!;
    await registry().storage.driver.putContent(`repositories/library/app/_uploads/${id}/data`, blob.bytes);
    const done = await registry().request.put(withQuery(upload, 'digest', blob.digest));
    expectAnswer(done, 201);
  });

  it.each(['sha256', 'sha512'] as const)('finishes an empty upload with a %s digest and no body after the restart', async (algorithm) => {
    // No byte ever arrived, so there is no data object to hash again: the digest is the empty one.
    const upload = await startUpload(registry(), 'library/app');
    await registry().restart();
    const empty = digestOf(Buffer.alloc(0), algorithm);
    const done = await registry().request.put(withQuery(upload, 'digest', empty));
    expectAnswer(done, 201);
    expect(done.headers['docker-content-digest']).toBe(empty);
    const pulled = await asBytes(registry().request.get(`/v2/library/app/blobs/${empty}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).length).toBe(0);
  });
});
