// Chunked uploads (end-5 PATCH, end-13 status, end-6 PUT, DELETE to cancel): chunks must arrive in
// order; an out-of-order or overlapping chunk is 416 and leaves the upload as it was
// (distribution-spec "Pushing a blob in chunks").
import http from 'node:http';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes, locationPath, rawRequest, startUpload, withQuery, type RawAnswer } from '../helpers/registry-client.js';
import { digestOf, randomBlob } from '../helpers/content.js';

const blob = randomBlob(30_000, 5);
const parts = [blob.bytes.subarray(0, 10_000), blob.bytes.subarray(10_000, 20_000), blob.bytes.subarray(20_000)];

function patchChunk(reg: TestRegistry, upload: string, chunk: Buffer, start: number) {
  return reg.request
    .patch(upload)
    .set('Content-Type', 'application/octet-stream')
    .set('Content-Range', `${start}-${start + chunk.length - 1}`)
    .send(chunk);
}

async function expectUploadSize(reg: TestRegistry, upload: string, size: number): Promise<void> {
  const status = await reg.request.get(upload);
  expectAnswer(status, 204);
  expect(status.headers.range).toBe(`0-${Math.max(0, size - 1)}`);
}

async function expectBlob(reg: TestRegistry, name: string): Promise<void> {
  const pulled = await asBytes(reg.request.get(`/v2/${name}/blobs/${blob.digest}`));
  expectAnswer(pulled, 200);
  expect((pulled.body as Buffer).equals(blob.bytes)).toBe(true);
}

describe.each(DRIVERS)('a chunked upload ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  it('takes chunks in order, each answered 202 with Location, Range and Docker-Upload-UUID', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const uuid = upload.split('/').pop();
    let offset = 0;
    for (const part of parts) {
      const res = await patchChunk(registry(), upload, part, offset);
      offset += part.length;
      expectAnswer(res, 202);
      expect(locationPath(res.headers.location)).toBe(upload);
      expect(res.headers.range).toBe(`0-${offset - 1}`);
      expect(res.headers['docker-upload-uuid']).toBe(uuid);
      expect(res.headers['content-length']).toBe('0');
    }
    const done = await registry().request.put(withQuery(upload, 'digest', blob.digest));
    expectAnswer(done, 201);
    expect(locationPath(done.headers.location)).toBe(`/v2/${ns}/alpine/blobs/${blob.digest}`);
    expect(done.headers['docker-content-digest']).toBe(blob.digest);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('reports its progress on GET with 204, Location, Range and Docker-Upload-UUID', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await registry().request.get(upload);
    expectAnswer(res, 204);
    expect(locationPath(res.headers.location)).toBe(upload);
    expect(res.headers.range).toBe(`0-${parts[0].length - 1}`);
    expect(res.headers['docker-upload-uuid']).toBe(upload.split('/').pop());
  });

  it('answers an out-of-order chunk with 416 and the Range so far, and keeps the upload unchanged', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await patchChunk(registry(), upload, parts[2], 20_000);
    expectError(res, 416, 'RANGE_INVALID');
    expect(res.headers.range).toBe('0-9999');
    await expectUploadSize(registry(), upload, 10_000);
    expectAnswer(await patchChunk(registry(), upload, parts[1], 10_000), 202);
    expectAnswer(await patchChunk(registry(), upload, parts[2], 20_000), 202);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('answers an overlapping chunk with 416 and keeps the upload unchanged', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const overlapping = blob.bytes.subarray(5_000, 15_000);
    const res = await patchChunk(registry(), upload, overlapping, 5_000);
    expectError(res, 416, 'RANGE_INVALID');
    expect(res.headers.range).toBe('0-9999');
    await expectUploadSize(registry(), upload, 10_000);
    expectAnswer(await patchChunk(registry(), upload, Buffer.concat([parts[1], parts[2]]), 10_000), 202);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('takes one of two concurrent chunks for the same offset and answers the other 416', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const answers = await Promise.all([patchChunk(registry(), upload, parts[0], 0), patchChunk(registry(), upload, parts[0], 0)]);
    expect(answers.map((res) => res.status).sort()).toEqual([202, 416]);
    await expectUploadSize(registry(), upload, 10_000);
    expectAnswer(await patchChunk(registry(), upload, Buffer.concat([parts[1], parts[2]]), 10_000), 202);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('answers a first chunk that does not start at 0 with 416', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const res = await patchChunk(registry(), upload, parts[1], 10_000);
    expectError(res, 416, 'RANGE_INVALID');
    await expectUploadSize(registry(), upload, 0);
  });

  it('answers a Content-Range that disagrees with Content-Length with 400 BLOB_UPLOAD_INVALID', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const res = await registry().request.patch(upload).set('Content-Type', 'application/octet-stream').set('Content-Range', '0-19999').send(parts[0]);
    expectError(res, 400, 'BLOB_UPLOAD_INVALID');
    await expectUploadSize(registry(), upload, 0);
  });

  it('appends streamed PATCH bodies without Content-Range or Content-Length', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const first = await rawRequest(registry().port, 'PATCH', upload, {
      headers: { 'Content-Type': 'application/octet-stream' },
      chunks: [parts[0].subarray(0, 4000), parts[0].subarray(4000)],
    });
    expectAnswer(first, 202);
    expect(first.headers.range).toBe('0-9999');
    const second = await rawRequest(registry().port, 'PATCH', upload, {
      headers: { 'Content-Type': 'application/octet-stream' },
      chunks: [parts[1], parts[2]],
    });
    expectAnswer(second, 202);
    expect(second.headers.range).toBe(`0-${blob.size - 1}`);
    expectAnswer(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('finishes with the last chunk in the PUT, with Content-Range', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, Buffer.concat([parts[0], parts[1]]), 0);
    const res = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `20000-${blob.size - 1}`)
      .send(parts[2]);
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('finishes with the last chunk in the PUT, without Content-Range', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.concat([parts[1], parts[2]]));
    expectAnswer(res, 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('answers a last chunk that does not continue the upload with 416', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `20000-${blob.size - 1}`)
      .send(parts[2]);
    expectError(res, 416, 'RANGE_INVALID');
    expect(res.headers.range).toBe('0-9999');
    expect(res.headers['docker-upload-uuid']).toBe(upload.split('/').pop());
    await expectUploadSize(registry(), upload, 10_000);
    expectError(await registry().request.head(`/v2/${ns}/alpine/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
    const done = await registry()
      .request.put(withQuery(upload, 'digest', blob.digest))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `10000-${blob.size - 1}`)
      .send(Buffer.concat([parts[1], parts[2]]));
    expectAnswer(done, 201);
    await expectBlob(registry(), `${ns}/alpine`);
  });

  it('with a wrong digest on PUT answers 400 DIGEST_INVALID and stores no blob', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await registry().request.put(withQuery(upload, 'digest', blob.digest));
    expectError(res, 400, 'DIGEST_INVALID');
    expectError(await registry().request.head(`/v2/${ns}/alpine/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN', { head: true });
  });

  it('is cancelled by DELETE with 204, and is then unknown to GET, PATCH and PUT', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    const res = await registry().request.delete(upload);
    expectAnswer(res, 204);
    expectError(await registry().request.get(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await patchChunk(registry(), upload, parts[1], 10_000), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await registry().request.delete(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('answers 404 BLOB_UPLOAD_UNKNOWN for an upload id that was never issued', async () => {
    const upload = `/v2/${ns}/alpine/blobs/uploads/01234567-89ab-cdef-0123-456789abcdef`;
    expectError(await registry().request.get(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await patchChunk(registry(), upload, parts[0], 0), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await registry().request.put(withQuery(upload, 'digest', blob.digest)), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await registry().request.delete(upload), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('answers 404 BLOB_UPLOAD_UNKNOWN for a malformed upload id', async () => {
    expectError(await registry().request.get(`/v2/${ns}/alpine/blobs/uploads/not-a-uuid`), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('cannot be continued under another repository name', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const elsewhere = upload.replace(`/${ns}/alpine/`, `/${ns}/busybox/`);
    expectError(await registry().request.get(elsewhere), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectError(await patchChunk(registry(), elsewhere, parts[0], 0), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('finishes with a sha512 digest after chunks', async () => {
    const upload = await startUpload(registry(), `${ns}/alpine`);
    await patchChunk(registry(), upload, parts[0], 0);
    await patchChunk(registry(), upload, Buffer.concat([parts[1], parts[2]]), 10_000);
    const digest512 = digestOf(blob.bytes, 'sha512');
    const res = await registry().request.put(withQuery(upload, 'digest', digest512));
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(digest512);
    const pulled = await asBytes(registry().request.get(`/v2/${ns}/alpine/blobs/${digest512}`));
    expect((pulled.body as Buffer).equals(blob.bytes)).toBe(true);
  });

  it('finishes an empty upload with a sha512 digest and no body', async () => {
    // The running hash is sha256 only; an empty upload has no data object to hash instead.
    const upload = await startUpload(registry(), `${ns}/alpine`);
    const empty = digestOf(Buffer.alloc(0), 'sha512');
    const res = await registry().request.put(withQuery(upload, 'digest', empty));
    expectAnswer(res, 201);
    expect(res.headers['docker-content-digest']).toBe(empty);
    const pulled = await asBytes(registry().request.get(`/v2/${ns}/alpine/blobs/${empty}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).length).toBe(0);
  });
});

/** A PATCH that sends the first part of its body and waits: finish() sends the rest. */
function heldPatch(port: number, path: string, first: Buffer, rest: Buffer, start: number): { answer: Promise<RawAnswer>; finish: () => void } {
  let req!: http.ClientRequest;
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'PATCH',
        path,
        agent: false,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(first.length + rest.length),
          'Content-Range': `${start}-${start + first.length + rest.length - 1}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.write(first);
  });
  return { answer, finish: () => req.end(rest) };
}

describe.each(DRIVERS)('a final PUT racing a PATCH of the same upload ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('checks its Content-Range start after the PATCH, under the upload lock', async () => {
    // A client pipelines the PATCH of bytes 0-9999 and the PUT of 10000-29999. The PUT's start is
    // right once the PATCH is in: checked before the lock, it would be 416 while the PATCH lands.
    const reg = registry();
    const upload = await startUpload(reg, 'library/app');
    const { driver, uploads } = reg.storage;
    const writer = driver.writer.bind(driver);
    let patchWriting!: () => void;
    const patchInside = new Promise<void>((resolve) => (patchWriting = resolve));
    // The PATCH opens its writer inside the lock: from then on it holds it.
    driver.writer = async (key, options) => {
      const opened = await writer(key, options);
      patchWriting();
      return opened;
    };
    const finish = uploads.finish.bind(uploads);
    let putEntered!: () => void;
    const putInside = new Promise<void>((resolve) => (putEntered = resolve));
    vi.spyOn(uploads, 'finish').mockImplementation((...args) => {
      const result = finish(...args);
      putEntered(); // finish() has queued on the upload's lock by now
      return result;
    });

    const patch = heldPatch(reg.port, upload, parts[0].subarray(0, 4000), parts[0].subarray(4000), 0);
    await patchInside;
    const put = rawRequest(reg.port, 'PUT', withQuery(upload, 'digest', blob.digest), {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '20000', 'Content-Range': `10000-${blob.size - 1}` },
      chunks: [parts[1], parts[2]],
    });
    // Before the fix the PUT answered at once, without reaching finish().
    const early = await Promise.race([putInside.then(() => undefined), put]);
    expect(early?.status, early?.body.toString()).toBeUndefined();
    patch.finish();
    expectAnswer(await patch.answer, 202);
    const done = await put;
    expectAnswer(done, 201);
    expect(done.headers['docker-content-digest']).toBe(blob.digest);
    await expectBlob(reg, 'library/app');
  });
});
