// Error answers carry the headers their code and detail call for: storage states facts (an
// upload's size and uuid, a retry delay) and server/errors.ts turns them into headers.
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { PausingDriver } from '../helpers/pausing-driver.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectError } from '../helpers/expect-answer.js';
import { startUpload } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';
import { blobDataKey } from '../../storage/layout.js';

describe('error answers', () => {
  let driver!: PausingDriver;
  const registry = useTestRegistry(filesystemDriverFactory, { wrapDriver: (inner) => (driver = new PausingDriver(inner)) });
  const blob = randomBlob(10_000, 13);

  it('answers a blob a collection took while it was stored 503 with Retry-After', async () => {
    // The collection deletes the new blob between its publishing rename and the push retaining it.
    const gate = driver.pause('touch', (key) => key === blobDataKey(blob.digest), { before: (key) => registry().backend.driver().delete(key) });
    gate.open();
    const res = await registry()
      .request.post(`/v2/errors/headers/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expect(gate.hit).toBe(true);
    expectError(res, 503, 'UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.errors[0].detail).toMatchObject({ digest: blob.digest });
  });

  it("gives an upload's Range only to a chunk that does not continue it, not to a malformed one", async () => {
    const upload = await startUpload(registry(), 'errors/headers');
    const chunk = (contentRange: string) =>
      registry().request.patch(upload).set('Content-Range', contentRange).set('Content-Type', 'application/octet-stream').send(blob.bytes);
    const malformed = await chunk('abc');
    expectError(malformed, 416, 'RANGE_INVALID');
    expect(malformed.headers.range).toBeUndefined();
    expect(malformed.headers['docker-upload-uuid']).toBeUndefined();
    const skipping = await chunk(`5-${blob.size + 4}`);
    expectError(skipping, 416, 'RANGE_INVALID');
    expect(skipping.headers.range).toBe('0-0');
    expect(skipping.headers['docker-upload-uuid']).toBe(upload.split('/').pop());
  });

  it('answers an unsatisfiable blob range with Content-Range and no upload headers', async () => {
    await pushBlob(registry(), 'errors/headers', blob);
    const res = await registry().request.get(`/v2/errors/headers/blobs/${blob.digest}`).set('Range', `bytes=${blob.size}-`);
    expectError(res, 416, 'RANGE_INVALID');
    expect(res.headers['content-range']).toBe(`bytes */${blob.size}`);
    expect(res.headers.range).toBeUndefined();
    expect(res.headers['docker-upload-uuid']).toBeUndefined();
  });
});
