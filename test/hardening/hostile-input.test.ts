// Hostile references, malformed digests and bad Content-Range headers: each is answered with the
// spec's code and status before anything is written, and the backing store is byte for byte what
// it was before (hostile repository names have their own suite, test/api/hostile-names.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { rawRequest, startUpload, withQuery } from '../helpers/registry-client.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { MEDIA, blobOf } from '../helpers/content.js';

const payload = blobOf('hostile payload');
const HEX = 'a'.repeat(64);

/** References as they appear in the path, byte for byte, that are no valid tag. */
const HOSTILE_TAGS: Array<[string, string]> = [
  ['a parent segment', '..'],
  ['encoded parent segments', '%2e%2e'],
  ['an encoded slash climbing out', '..%2F..%2F..%2Fetc%2Fpasswd'],
  ['an encoded slash', 'v1%2Flatest'],
  ['an encoded backslash', '..%5C..%5Cevil'],
  ['a NUL byte', 'latest%00.json'],
  ['129 characters', 'x'.repeat(129)],
  ['a leading dot', '.hidden'],
  ['a leading dash', '-latest'],
  ['a non-ASCII letter', encodeURIComponent('lätest')],
  ['a fullwidth look-alike', encodeURIComponent('ｌatest')],
  ['a right-to-left override', encodeURIComponent('late\u202Etsx')],
  ['a space', 'lat%20est'],
];

/** References with a colon: they must be valid digests. */
const HOSTILE_DIGESTS: Array<[string, string]> = [
  ['garbage hex', 'sha256:zzz'],
  ['63 hex digits', `sha256:${'a'.repeat(63)}`],
  ['65 hex digits', `sha256:${'a'.repeat(65)}`],
  ['upper-case hex', `sha256:${'A'.repeat(64)}`],
  ['an unknown algorithm', `md5:${'a'.repeat(32)}`],
  ['sha512 with a sha256 length', `sha512:${HEX}`],
  ['a parent segment as hex', 'sha256:..'],
  ['encoded separators in the hex', `sha256:..%2F..%2F${'a'.repeat(58)}`],
  ['an empty algorithm', `:${HEX}`],
  ['an over-long value', `sha256:${'a'.repeat(5000)}`],
];

describe.each(DRIVERS)('hostile input ($name)', (factory) => {
  const registry = useTestRegistry(factory);
  let image: PushedImage;
  let upload: string;
  let before: Map<string, string>;

  beforeEach(async () => {
    image = await pushImage(registry(), 'library/alpine', 'latest');
    upload = await startUpload(registry(), 'library/alpine');
    before = await registry().backend.snapshot();
  });

  afterEach(async () => {
    expect(await registry().backend.snapshot()).toEqual(before);
  });

  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) =>
    rawRequest(registry().port, method, path, {
      headers: body ? { 'Content-Length': String(body.length), ...headers } : headers,
      chunks: body ? [body] : [],
    });

  describe.each(HOSTILE_TAGS)('a manifest reference with %s', (_what, reference) => {
    it('is unknown to GET, HEAD and DELETE (404 MANIFEST_UNKNOWN)', async () => {
      expectError(await send('GET', `/v2/library/alpine/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
      expectError(await send('HEAD', `/v2/library/alpine/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN', { head: true });
      expectError(await send('DELETE', `/v2/library/alpine/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
    });

    it('is refused by PUT with 400 TAG_INVALID', async () => {
      const res = await send('PUT', `/v2/library/alpine/manifests/${reference}`, { 'Content-Type': image.manifest.mediaType }, image.manifest.bytes);
      expectError(res, 400, 'TAG_INVALID');
    });
  });

  describe.each(HOSTILE_DIGESTS)('a digest with %s', (_what, digest) => {
    it('is refused as a manifest reference with 400 DIGEST_INVALID', async () => {
      expectError(await send('GET', `/v2/library/alpine/manifests/${digest}`), 400, 'DIGEST_INVALID');
      expectError(await send('DELETE', `/v2/library/alpine/manifests/${digest}`), 400, 'DIGEST_INVALID');
      const put = await send('PUT', `/v2/library/alpine/manifests/${digest}`, { 'Content-Type': image.manifest.mediaType }, image.manifest.bytes);
      expectError(put, 400, 'DIGEST_INVALID');
    });

    it('is refused for blobs with 400 DIGEST_INVALID', async () => {
      expectError(await send('GET', `/v2/library/alpine/blobs/${digest}`), 400, 'DIGEST_INVALID');
      expectError(await send('HEAD', `/v2/library/alpine/blobs/${digest}`), 400, 'DIGEST_INVALID', { head: true });
      expectError(await send('DELETE', `/v2/library/alpine/blobs/${digest}`), 400, 'DIGEST_INVALID');
      expectError(await send('GET', `/v2/library/alpine/referrers/${digest}`), 400, 'DIGEST_INVALID');
    });

    it('is refused as an upload or mount digest with 400 DIGEST_INVALID, the upload kept as it was', async () => {
      const query = encodeURIComponent(decodeURIComponent(digest));
      expectError(
        await send('POST', `/v2/library/alpine/blobs/uploads/?digest=${query}`, { 'Content-Type': 'application/octet-stream' }, payload.bytes),
        400,
        'DIGEST_INVALID',
      );
      expectError(await send('POST', `/v2/library/alpine/blobs/uploads/?mount=${query}&from=library/alpine`), 400, 'DIGEST_INVALID');
      expectError(
        await send('PUT', `${upload}?digest=${query}`, { 'Content-Type': 'application/octet-stream' }, payload.bytes),
        400,
        'DIGEST_INVALID',
      );
      expectAnswer(await send('GET', upload), 204);
    });
  });

  describe('bad Content-Range on a chunk', () => {
    it.each([
      ['no numbers', 'abc', 416, 'RANGE_INVALID'],
      ['an open end', '0-', 416, 'RANGE_INVALID'],
      ['a negative start', '-1-4', 416, 'RANGE_INVALID'],
      ['an end before the start', '4-0', 416, 'RANGE_INVALID'],
      ['a start past the upload', '10-23', 416, 'RANGE_INVALID'],
      ['a length other than Content-Length', '0-3', 400, 'BLOB_UPLOAD_INVALID'],
      ['numbers beyond 2^53', '0-99999999999999999999999', 400, 'BLOB_UPLOAD_INVALID'],
      ['two ranges', '0-4,5-9', 416, 'RANGE_INVALID'],
    ] as const)('%s (%s) is refused on PATCH', async (_what, range, status, code) => {
      const res = await send('PATCH', upload, { 'Content-Type': 'application/octet-stream', 'Content-Range': range }, Buffer.from('12345678901234'));
      expectError(res, status, code);
      const state = await send('GET', upload);
      expectAnswer(state, 204);
      expect(state.headers.range).toBe('0-0');
    });

    it('a start past the upload says where the upload ends', async () => {
      const res = await send('PATCH', upload, { 'Content-Type': 'application/octet-stream', 'Content-Range': '10-14' }, Buffer.from('12345'));
      expectError(res, 416, 'RANGE_INVALID');
      expect(res.headers.range).toBe('0-0');
    });

    it('is refused on the closing PUT too', async () => {
      const res = await send(
        'PUT',
        withQuery(upload, 'digest', payload.digest),
        { 'Content-Type': 'application/octet-stream', 'Content-Range': '7-3' },
        payload.bytes,
      );
      expectError(res, 416, 'RANGE_INVALID');
      expectAnswer(await send('GET', upload), 204);
    });
  });

  describe('bad upload ids and queries', () => {
    it.each([
      ['a parent segment', '..'],
      ['an encoded traversal', '..%2F..%2F_layers'],
      ['no UUID', 'not-a-uuid'],
      ['an upper-case UUID', '01234567-89AB-CDEF-0123-456789ABCDEF'],
    ])('an upload id with %s is unknown (404 BLOB_UPLOAD_UNKNOWN)', async (_what, id) => {
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
        const res = await send(
          method,
          `/v2/library/alpine/blobs/uploads/${id}?digest=${payload.digest}`,
          { 'Content-Type': 'application/octet-stream' },
          payload.bytes,
        );
        expectError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    });

    it('refuses a pagination count that is no number with 400 PAGINATION_NUMBER_INVALID', async () => {
      for (const n of ['-1', 'abc', '1e3', '0x10', '99999999999999999999999%00']) {
        expectError(await send('GET', `/v2/library/alpine/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
      }
    });

    it('serves manifests exactly, whatever hostile Accept header comes with the request', async () => {
      const res = await send('GET', '/v2/library/alpine/manifests/latest', { Accept: `${'x/'.repeat(2000)}, ${MEDIA.dockerManifest};q=abc` });
      expectAnswer(res, 200);
      expect(res.body.equals(image.manifest.bytes)).toBe(true);
    });
  });
});
