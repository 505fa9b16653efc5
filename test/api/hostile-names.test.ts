// Repository names (and digests, upload ids) crafted to escape the storage root or to pass for
// another name: every one is refused with the spec's code before anything touches storage, and
// the backing store (inside the root and around it) is byte for byte what it was before.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectError } from '../helpers/expect-answer.js';
import { rawRequest, startUpload } from '../helpers/registry-client.js';
import { pushImage } from '../helpers/images.js';
import { MEDIA, blobOf } from '../helpers/content.js';
import type { ErrorCode } from '../../errors/registry-error.js';

const payload = blobOf('hostile payload');
const manifestBody = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: payload.digest, size: payload.size },
    layers: [],
  }),
);

/** Names as they appear in the request path, byte for byte. */
const HOSTILE_NAMES: Array<[string, string]> = [
  ['a parent segment', '..'],
  ['a parent segment under a namespace', 'library/..'],
  ['parent segments climbing out', 'library/../../../../tmp/evil'],
  ['a current-directory segment', 'library/./alpine'],
  ['percent-encoded dots', '%2e%2e'],
  ['percent-encoded dots in a path', 'library/%2e%2e/%2E%2E/evil'],
  ['an encoded slash', 'library%2Falpine'],
  ['an encoded slash climbing out', '..%2F..%2Fevil'],
  ['an absolute path', '/etc/passwd'],
  ['an absolute path after the prefix', '/tmp/evil'],
  ['an empty segment', 'library//alpine'],
  ['a trailing slash', 'library/alpine/'],
  ['upper case', 'Library/Alpine'],
  ['a name over 255 characters', `${'a'.repeat(200)}/${'b'.repeat(60)}`],
  ['a leading separator', '-alpine'],
  ['a trailing separator', 'alpine_'],
  ['a backslash', 'library\\..\\evil'],
  ['an encoded backslash', 'library%5C..%5Cevil'],
  ['a NUL byte', 'alpine%00evil'],
  ['a Cyrillic look-alike (а)', encodeURIComponent('аlpine')],
  ['a fullwidth look-alike', encodeURIComponent('ｌibrary/alpine')],
  ['a dotless i', encodeURIComponent('lıbrary/alpine')],
  ['a layout directory name', 'library/_layers'],
  ['a layout directory with a parent', 'library/_uploads/..'],
];

interface Probe {
  /** What the request does, for the failure message. */
  what: string;
  method: string;
  path: (name: string) => string;
  body?: Buffer;
  contentType?: string;
}

const PROBES: Probe[] = [
  { what: 'GET tags/list', method: 'GET', path: (n) => `/v2/${n}/tags/list` },
  { what: 'GET a manifest', method: 'GET', path: (n) => `/v2/${n}/manifests/latest` },
  { what: 'PUT a manifest', method: 'PUT', path: (n) => `/v2/${n}/manifests/latest`, body: manifestBody, contentType: MEDIA.ociManifest },
  { what: 'DELETE a manifest', method: 'DELETE', path: (n) => `/v2/${n}/manifests/latest` },
  { what: 'GET a blob', method: 'GET', path: (n) => `/v2/${n}/blobs/${payload.digest}` },
  { what: 'DELETE a blob', method: 'DELETE', path: (n) => `/v2/${n}/blobs/${payload.digest}` },
  {
    what: 'POST a monolithic upload',
    method: 'POST',
    path: (n) => `/v2/${n}/blobs/uploads/?digest=${payload.digest}`,
    body: payload.bytes,
    contentType: 'application/octet-stream',
  },
  { what: 'POST an upload session', method: 'POST', path: (n) => `/v2/${n}/blobs/uploads/` },
  {
    what: 'PATCH an upload',
    method: 'PATCH',
    path: (n) => `/v2/${n}/blobs/uploads/01234567-89ab-cdef-0123-456789abcdef`,
    body: payload.bytes,
    contentType: 'application/octet-stream',
  },
  { what: 'GET referrers', method: 'GET', path: (n) => `/v2/${n}/referrers/${payload.digest}` },
];

describe.each(DRIVERS)('hostile names ($name)', (factory) => {
  // One registry for the block: no test may change what it stores, which afterEach checks.
  const registry = useTestRegistry(factory, { shared: true });
  let before: Map<string, string>;

  beforeAll(async () => {
    await pushImage(registry(), 'library/alpine', 'latest');
    await startUpload(registry(), 'library/alpine');
    before = await registry().backend.snapshot();
  });

  afterEach(async () => {
    // Whatever the test sent, nothing stored changed and nothing appeared beside the root.
    expect(await registry().backend.snapshot()).toEqual(before);
  });

  it.each(HOSTILE_NAMES)('refuses a name with %s with 400 NAME_INVALID on every route', async (_what, name) => {
    for (const probe of PROBES) {
      const headers: Record<string, string> = {};
      if (probe.contentType) headers['Content-Type'] = probe.contentType;
      if (probe.body) headers['Content-Length'] = String(probe.body.length);
      const res = await rawRequest(registry().port, probe.method, probe.path(name), { headers, chunks: probe.body ? [probe.body] : [] });
      expect(res.status, `${probe.what} ${probe.path(name)}`).toBe(400);
      expectError({ ...res, text: res.body.toString() }, 400, 'NAME_INVALID');
    }
  });

  it('accepts a name of exactly 255 characters', async () => {
    const name = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    expect(name).toHaveLength(255);
    const res = await registry().request.get(`/v2/${name}/tags/list`);
    expectError(res, 404, 'NAME_UNKNOWN');
  });

  const HOSTILE_PARAMS: Array<[string, string, number, ErrorCode]> = [
    ['a blob digest with encoded parent segments', `/v2/library/alpine/blobs/sha256:..%2F..%2F..%2Fevil`, 400, 'DIGEST_INVALID'],
    ['a blob digest of an unknown algorithm', `/v2/library/alpine/blobs/md5:${'0'.repeat(32)}`, 400, 'DIGEST_INVALID'],
    ['a manifest reference with encoded parent segments', '/v2/library/alpine/manifests/..%2F..%2Fevil', 404, 'MANIFEST_UNKNOWN'],
    ['a manifest digest with encoded parent segments', '/v2/library/alpine/manifests/sha256:..%2Fevil', 400, 'DIGEST_INVALID'],
    ['an upload id with encoded parent segments', '/v2/library/alpine/blobs/uploads/..%2F..%2Fevil', 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['an upload id of dots', '/v2/library/alpine/blobs/uploads/..', 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['a referrers subject with encoded parent segments', '/v2/library/alpine/referrers/sha256:..%2Fevil', 400, 'DIGEST_INVALID'],
  ];

  it.each(HOSTILE_PARAMS)('refuses %s', async (_what, path, status, code) => {
    const res = await rawRequest(registry().port, 'GET', path);
    expectError({ ...res, text: res.body.toString() }, status, code);
  });

  it('refuses a manifest pushed under a tag with encoded parent segments with 400 TAG_INVALID', async () => {
    const res = await rawRequest(registry().port, 'PUT', '/v2/library/alpine/manifests/..%2F..%2Fevil', {
      headers: { 'Content-Type': MEDIA.ociManifest, 'Content-Length': String(manifestBody.length) },
      chunks: [manifestBody],
    });
    expectError({ ...res, text: res.body.toString() }, 400, 'TAG_INVALID');
  });

  it('refuses a PATCH to an upload id with encoded parent segments', async () => {
    const res = await rawRequest(registry().port, 'PATCH', '/v2/library/alpine/blobs/uploads/..%2F..%2F_layers', {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(payload.size) },
      chunks: [payload.bytes],
    });
    expectError({ ...res, text: res.body.toString() }, 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});
