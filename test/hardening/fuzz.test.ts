// Random requests (fast-check, seeded, a bounded number of runs) against the registry without auth,
// with htpasswd and with tokens: hostile paths, queries, headers, credentials and bodies. No request
// may be answered with a 5xx or crash the process, every error is the spec's JSON envelope, and the
// registry still serves its content afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { rawRequest } from '../helpers/registry-client.js';
import { pushImage, tryPushImage } from '../helpers/images.js';
import { MEDIA } from '../helpers/content.js';
import { basic } from '../helpers/credentials.js';

const SEED = 0x5eed;
const RUNS = 250;
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const segment = fc.oneof(
  fc.constantFrom(
    'library',
    'alpine',
    'app',
    'public',
    'a',
    '..',
    '.',
    '%2e%2e',
    '%2F',
    '_uploads',
    '_layers',
    '_manifests',
    'blobs',
    'manifests',
    'uploads',
    'tags',
    'list',
    'referrers',
    '_catalog',
  ),
  fc.constantFrom(
    '%00',
    '%ff',
    '%c3%a4',
    '%E2%80%AE',
    '~',
    '-',
    '__',
    'a--b',
    'x'.repeat(300),
    'A',
    'latest',
    'v1',
    DIGEST,
    'sha256:zz',
    '01234567-89ab-cdef-0123-456789abcdef',
  ),
  fc.stringMatching(/^[a-z0-9._-]{1,20}$/),
);
const name = fc.array(segment, { minLength: 0, maxLength: 4 }).map((parts) => parts.join('/'));
const reference = fc.oneof(
  fc.constantFrom('latest', 'v1', DIGEST, '..', '%2e%2e', 'sha256:', '-x', 'x'.repeat(200)),
  fc.stringMatching(/^[A-Za-z0-9._:%-]{0,80}$/),
);
const path = fc.oneof(
  fc.tuple(name, reference).map(([n, r]) => `/v2/${n}/manifests/${r}`),
  fc.tuple(name, reference).map(([n, r]) => `/v2/${n}/blobs/${r}`),
  name.map((n) => `/v2/${n}/blobs/uploads/`),
  fc.tuple(name, reference).map(([n, r]) => `/v2/${n}/blobs/uploads/${r}`),
  name.map((n) => `/v2/${n}/tags/list`),
  fc.tuple(name, reference).map(([n, r]) => `/v2/${n}/referrers/${r}`),
  fc.constantFrom('/v2/', '/v2', '/v2/_catalog', '/token', '/', '/v2//', '/v2/../etc/passwd', '/%2e%2e/', '/metrics', '/healthz'),
  name.map((n) => `/${n}`),
);
const queryValue = fc.oneof(
  fc.constantFrom(
    DIGEST,
    'sha256:zz',
    'library/app',
    '..',
    '-1',
    '0',
    '99999999999999999999',
    'repository:library/app:pull,push',
    'registry:catalog:*',
    '',
  ),
  fc.stringMatching(/^[A-Za-z0-9%:._/-]{0,40}$/),
);
const query = fc
  .array(fc.tuple(fc.constantFrom('digest', 'mount', 'from', 'n', 'last', 'scope', 'service', 'artifactType', 'ns', 'account'), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,120}$/);
const credentials = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    basic('admin', 'admin-pw'),
    basic('reader', 'reader-pw'),
    basic('admin', 'wrong'),
    'Basic',
    'Basic !!!',
    'Bearer',
    'Bearer a.b.c',
    'Digest x',
  ),
  headerValue.map((v) => `Basic ${Buffer.from(v).toString('base64')}`),
  headerValue.map((v) => `Bearer ${v}`),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.json({ maxDepth: 6 }).map((j) => Buffer.from(j)),
  fc.constant(
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: { mediaType: MEDIA.ociConfig, digest: DIGEST, size: 2 }, layers: [] }),
    ),
  ),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'),
  path,
  query,
  authorization: credentials,
  contentType: fc.option(
    fc.constantFrom(
      'application/octet-stream',
      MEDIA.ociManifest,
      MEDIA.ociIndex,
      MEDIA.dockerManifest,
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
    ),
    { nil: undefined },
  ),
  contentRange: fc.option(fc.oneof(fc.constantFrom('0-0', '0-9', '5-1', 'bytes 0-3/4', '-1-2'), headerValue), { nil: undefined }),
  range: fc.option(fc.oneof(fc.constantFrom('bytes=0-0', 'bytes=-5', 'bytes=5-1', 'bytes=0-1,2-3', 'bytes=99999999999999999999-'), headerValue), {
    nil: undefined,
  }),
  accept: fc.option(headerValue, { nil: undefined }),
  body,
});

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

async function send(port: number, r: FuzzRequest) {
  const headers: Record<string, string> = {};
  if (r.authorization !== undefined) headers.Authorization = r.authorization;
  if (r.contentType) headers['Content-Type'] = r.contentType;
  if (r.contentRange !== undefined) headers['Content-Range'] = r.contentRange;
  if (r.range !== undefined) headers.Range = r.range;
  if (r.accept !== undefined) headers.Accept = r.accept;
  if (r.body) headers['Content-Length'] = String(r.body.length);
  return rawRequest(port, r.method, `${r.path}${r.query}`, { headers, chunks: r.body ? [r.body] : [] });
}

/** Runs the property against a registry on port; fails on any 5xx or malformed error answer. */
async function fuzz(port: () => number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const res = await send(port(), r);
      expect(res.status, `${r.method} ${r.path}${r.query}: ${res.body.toString().slice(0, 300)}`).toBeGreaterThanOrEqual(200);
      expect(res.status, `${r.method} ${r.path}${r.query}: ${res.body.toString().slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400 && r.method !== 'HEAD' && res.body.length > 0) {
        const parsed = JSON.parse(res.body.toString()) as { errors: Array<{ code: string }> };
        expect(parsed.errors[0].code).toMatch(/^[A-Z_]+$/);
      }
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
}

describe('fuzzing the registry with random requests', () => {
  describe('without auth', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startTestRegistry(filesystemDriverFactory);
      await pushImage(reg, 'library/app', 'latest');
    });
    afterAll(() => reg.cleanup());

    it('never answers 5xx, and still serves its content afterwards', async () => {
      await fuzz(() => reg.port);
      expect((await rawRequest(reg.port, 'GET', '/v2/library/app/manifests/latest', { headers: { Accept: MEDIA.ociManifest } })).status).toBe(200);
    }, 120_000);
  });

  describe('with htpasswd and access rules', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startTestRegistry(filesystemDriverFactory, {
        users: { admin: 'admin-pw', reader: 'reader-pw' },
        config: (p) => ({
          auth: { htpasswd: { realm: 'fuzz', path: p.htpasswd } },
          stowage: {
            auth: {
              access: [
                { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
                { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
                { repositories: ['library/*'], users: ['reader'], actions: ['pull'] },
              ],
              loginlimit: { attempts: 1000, window: '1m', lockout: '1s' },
            },
          },
        }),
        logs: true,
      });
      await tryPushImage(reg, 'library/app', 'latest', { authorization: basic('admin', 'admin-pw') });
    });
    afterAll(() => reg.cleanup());

    it('never answers 5xx, and still serves its content afterwards', async () => {
      await fuzz(() => reg.port);
      const res = await rawRequest(reg.port, 'GET', '/v2/library/app/manifests/latest', {
        headers: { Accept: MEDIA.ociManifest, Authorization: basic('reader', 'reader-pw') },
      });
      expect(res.status).toBe(200);
    }, 120_000);
  });

  describe('with tokens from the built-in issuer', () => {
    let reg: TestRegistry;
    beforeAll(async () => {
      reg = await startTestRegistry(filesystemDriverFactory, {
        users: { admin: 'admin-pw', reader: 'reader-pw' },
        config: (p) => ({
          auth: { token: { realm: 'http://127.0.0.1/token', service: 'fuzz', issuer: 'fuzz-issuer' } },
          stowage: { auth: { issuer: { htpasswd: p.htpasswd }, loginlimit: { attempts: 1000, window: '1m', lockout: '1s' } } },
        }),
        logs: true,
      });
    });
    afterAll(() => reg.cleanup());

    it('never answers 5xx, at the registry or the token endpoint', async () => {
      await fuzz(() => reg.port);
      const res = await rawRequest(reg.port, 'GET', '/token?service=fuzz&scope=repository:library/app:pull', {
        headers: { Authorization: basic('admin', 'admin-pw') },
      });
      expect(res.status).toBe(200);
    }, 120_000);
  });
});
