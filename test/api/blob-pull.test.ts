// Pulling blobs (end-2 GET/HEAD) and single byte ranges (206, 416).
import http from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushBlob } from '../helpers/images.js';
import { blobOf, randomBlob } from '../helpers/content.js';

describe.each(DRIVERS)('pulling a blob ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });
  const blob = randomBlob(100_000, 7);

  it('serves the bytes with Content-Length, Content-Type and Docker-Content-Digest', async () => {
    await pushBlob(registry(), `${ns}/alpine`, blob);
    const res = await asBytes(registry().request.get(`/v2/${ns}/alpine/blobs/${blob.digest}`));
    expectAnswer(res, 200);
    expect(res.headers['content-length']).toBe(String(blob.size));
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect((res.body as Buffer).equals(blob.bytes)).toBe(true);
  });

  it('answers HEAD with the same headers and no body', async () => {
    await pushBlob(registry(), `${ns}/alpine`, blob);
    const res = await registry().request.head(`/v2/${ns}/alpine/blobs/${blob.digest}`);
    expectAnswer(res, 200);
    expect(res.headers['content-length']).toBe(String(blob.size));
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.text ?? '').toBe('');
  });

  it('keeps serving after a client hangs up mid-download', async () => {
    const big = randomBlob(3 * 1024 * 1024, 8);
    await pushBlob(registry(), `${ns}/alpine`, big);
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: registry().port, path: `/v2/${ns}/alpine/blobs/${big.digest}`, agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => req.destroy());
      });
      req.on('close', () => resolve());
      req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
    });
    const pulled = await asBytes(registry().request.get(`/v2/${ns}/alpine/blobs/${big.digest}`));
    expectAnswer(pulled, 200);
    expect((pulled.body as Buffer).equals(big.bytes)).toBe(true);
  });

  it('serves an empty blob', async () => {
    const empty = blobOf('');
    await pushBlob(registry(), `${ns}/alpine`, empty);
    const res = await asBytes(registry().request.get(`/v2/${ns}/alpine/blobs/${empty.digest}`));
    expectAnswer(res, 200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.headers['docker-content-digest']).toBe(empty.digest);
  });

  it('answers 404 BLOB_UNKNOWN for a digest nobody pushed', async () => {
    const res = await registry().request.get(`/v2/${ns}/alpine/blobs/${blob.digest}`);
    expectError(res, 404, 'BLOB_UNKNOWN');
  });

  it('answers HEAD of an unknown blob with 404 and no body', async () => {
    const res = await registry().request.head(`/v2/${ns}/alpine/blobs/${blob.digest}`);
    expectError(res, 404, 'BLOB_UNKNOWN', { head: true });
  });

  it('answers 404 BLOB_UNKNOWN when the blob exists only in another repository', async () => {
    await pushBlob(registry(), `${ns}/alpine`, blob);
    const res = await registry().request.get(`/v2/${ns}/busybox/blobs/${blob.digest}`);
    expectError(res, 404, 'BLOB_UNKNOWN');
  });

  it.each(['sha256:abc', 'sha256:' + 'A'.repeat(64), 'md5:' + 'a'.repeat(32), 'notadigest'])(
    'answers 400 DIGEST_INVALID for the malformed digest %s',
    async (digest) => {
      const res = await registry().request.get(`/v2/${ns}/alpine/blobs/${digest}`);
      expectError(res, 400, 'DIGEST_INVALID');
    },
  );
});

describe.each(DRIVERS)('pulling a byte range of a blob ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });
  const blob = blobOf('0123456789abcdefghijklmnopqrstuvwxyz');

  async function range(header: string) {
    await pushBlob(registry(), `${ns}/ranged`, blob);
    return asBytes(registry().request.get(`/v2/${ns}/ranged/blobs/${blob.digest}`).set('Range', header));
  }

  it('answers bytes=a-b with 206, Content-Range and exactly those bytes', async () => {
    const res = await range('bytes=10-19');
    expectAnswer(res, 206);
    expect(res.headers['content-range']).toBe(`bytes 10-19/${blob.size}`);
    expect(res.headers['content-length']).toBe('10');
    expect(res.headers['docker-content-digest']).toBe(blob.digest);
    expect((res.body as Buffer).toString()).toBe('abcdefghij');
  });

  it('answers an open-ended range with the rest of the blob', async () => {
    const res = await range('bytes=30-');
    expectAnswer(res, 206);
    expect(res.headers['content-range']).toBe(`bytes 30-35/${blob.size}`);
    expect((res.body as Buffer).toString()).toBe('uvwxyz');
  });

  it('answers a suffix range with the last bytes', async () => {
    const res = await range('bytes=-4');
    expectAnswer(res, 206);
    expect(res.headers['content-range']).toBe(`bytes 32-35/${blob.size}`);
    expect((res.body as Buffer).toString()).toBe('wxyz');
  });

  it('clips a range that runs past the end', async () => {
    const res = await range('bytes=34-1000');
    expectAnswer(res, 206);
    expect(res.headers['content-range']).toBe(`bytes 34-35/${blob.size}`);
    expect((res.body as Buffer).toString()).toBe('yz');
  });

  it.each(['bytes=36-', 'bytes=100-200', 'bytes=20-10', 'bytes=-0', 'bytes=x-y'])(
    'answers the unsatisfiable range %s with 416 and Content-Range bytes */size',
    async (header) => {
      const res = await range(header);
      expectError(res, 416, 'RANGE_INVALID');
      expect(res.headers['content-range']).toBe(`bytes */${blob.size}`);
    },
  );
});
