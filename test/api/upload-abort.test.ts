// A client that drops the connection mid-upload leaves no visible blob: neither under its digest
// in the repository nor in the content store.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { abandonedUpload, eventually, startUpload, withQuery } from '../helpers/registry-client.js';
import { randomBlob } from '../helpers/content.js';
import { blobDataKey } from '../../storage/layout.js';
import { isNotFound } from '../../storage/errors.js';

const blob = randomBlob(4 * 1024 * 1024, 41);

describe.each(DRIVERS)('a client that aborts mid-upload ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  async function expectNoBlob(): Promise<void> {
    expectError(await registry().request.head(`/v2/library/app/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
    const stored = await registry()
      .storage.driver.stat(blobDataKey(blob.digest))
      .then(
        () => true,
        (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
      );
    expect(stored).toBe(false);
  }

  it('in a monolithic POST leaves no blob and no upload session', async () => {
    await abandonedUpload(registry().port, 'POST', `/v2/library/app/blobs/uploads/?digest=${blob.digest}`, blob.bytes, 1024 * 1024);
    const cleaned = await eventually(async () => (await registry().storage.driver.list('repositories/library/app/_uploads')).length === 0);
    expect(cleaned).toBe(true);
    await expectNoBlob();
  });

  it('in the PUT that finishes an upload leaves no blob, and the session can be resumed', async () => {
    const upload = await startUpload(registry(), 'library/app');
    await abandonedUpload(registry().port, 'PUT', withQuery(upload, 'digest', blob.digest), blob.bytes, 1024 * 1024);
    await expectNoBlob();
    // The client resumes from what landed. A PATCH waits for the aborted write to settle (one
    // upload's operations are serialised) and answers 416 if the offset it was given is stale.
    const id = upload.split('/').pop()!;
    const resume = async () => {
      const size = (await registry().storage.uploads.status('library/app', id)).size;
      return registry()
        .request.patch(upload)
        .set('Content-Type', 'application/octet-stream')
        .set('Content-Range', `${size}-${blob.size - 1}`)
        .send(blob.bytes.subarray(size));
    };
    let resumed = await resume();
    if (resumed.status === 416) resumed = await resume();
    expectAnswer(resumed, 202);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 201);
  });

  it('in a PATCH leaves no blob', async () => {
    const upload = await startUpload(registry(), 'library/app');
    await abandonedUpload(registry().port, 'PATCH', upload, blob.bytes, 1024 * 1024);
    await expectNoBlob();
    const status = await registry().request.get(upload);
    expectAnswer(status, 204);
  });
});
