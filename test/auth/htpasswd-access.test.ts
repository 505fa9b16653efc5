// auth.htpasswd end to end over HTTP: the Basic challenge, logins, the access rules (401 for
// anonymous callers, 403 DENIED for known users), anonymous pull of a public namespace, the
// catalog filtered to what the caller may pull, a mount that needs pull on its source, the login
// slow-down (429 with Retry-After), and passwords never reaching the log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { rawRequest } from '../helpers/registry-client.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { snapshot } from '../helpers/fs-snapshot.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const USERS = { admin: 'admin-pw-7f3a', reader: 'reader-pw-19c2', dev: 'dev-pw-5b8e', outsider: 'outsider-pw-c0d4' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);
const DEV = basic('dev', USERS.dev);
const OUTSIDER = basic('outsider', USERS.outsider);

describe('htpasswd without access rules', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } } }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('answers GET /v2/ without credentials with 401 and a Basic challenge', async () => {
    const res = await reg.request.get('/v2/');
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe('Basic realm="stowage-test"');
  });

  it('answers a wrong password, an unknown user and a malformed header with 401', async () => {
    for (const authorization of [basic('admin', 'wrong'), basic('nobody', USERS.admin), 'Basic %%%', 'Bearer some.jwt.token']) {
      const res = await reg.request.get('/v2/').set('Authorization', authorization);
      expectError(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Basic realm="stowage-test"');
    }
  });

  it('lets any logged-in user push and pull back', async () => {
    expectAnswer(await reg.request.get('/v2/').set('Authorization', DEV), 200);
    const { manifest, statuses } = await tryPushImage(reg, 'team/app', 'v1', { authorization: DEV });
    expect(statuses).toEqual([201, 201, 201]);
    const pulled = await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', READER).set('Accept', manifest.mediaType);
    expectAnswer(pulled, 200);
    expect(pulled.headers['docker-content-digest']).toBe(manifest.digest);
  });

  it('refuses anonymous pulls and pushes with 401, storing nothing', async () => {
    await tryPushImage(reg, 'team/app', 'v1', { authorization: ADMIN });
    const before = await snapshot(reg.paths.root);
    expectError(await reg.request.get('/v2/team/app/manifests/v1'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/v2/team/app/tags/list'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/v2/_catalog'), 401, 'UNAUTHORIZED');
    const { statuses } = await tryPushImage(reg, 'team/app', 'v2', { seed: 2 });
    expect(statuses).toEqual([401, 401, 401]);
    expect(await snapshot(reg.paths.root)).toEqual(before);
  });

  it('refuses hostile names with 400 NAME_INVALID, logged in or not, storing nothing', async () => {
    await tryPushImage(reg, 'team/app', 'v1', { authorization: ADMIN });
    const before = await snapshot(reg.paths.root);
    for (const name of ['..', 'team/..%2F..%2Fetc', '%2e%2e/app', 'Team/App', encodeURIComponent('tеam/app'), `${'a'.repeat(256)}`]) {
      for (const authorization of [undefined, ADMIN, basic('admin', 'wrong')]) {
        const res = await rawRequest(reg.port, 'POST', `/v2/${name}/blobs/uploads/`, {
          headers: authorization ? { Authorization: authorization } : {},
        });
        expectError(res, 400, 'NAME_INVALID');
      }
    }
    expect(await snapshot(reg.paths.root)).toEqual(before);
  });

  it('names what was needed in the 401 detail', async () => {
    const res = await reg.request.post('/v2/team/app/blobs/uploads/');
    expectError(res, 401, 'UNAUTHORIZED');
    expect(JSON.parse(res.text).errors[0].detail).toEqual([
      { Type: 'repository', Name: 'team/app', Action: 'pull' },
      { Type: 'repository', Name: 'team/app', Action: 'push' },
    ]);
  });
});

describe('htpasswd with access rules', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: {
          auth: {
            groups: { developers: ['dev'] },
            access: [
              { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
              { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
              { repositories: ['team/**', 'secret/**'], users: ['reader'], actions: ['pull'] },
              { repositories: ['team/**'], groups: ['developers'], actions: ['pull', 'push'] },
            ],
          },
        },
      }),
      logs: true,
    });
    await tryPushImage(reg, 'public/app', 'v1', { authorization: ADMIN });
    await tryPushImage(reg, 'team/app', 'v1', { authorization: ADMIN });
    await tryPushImage(reg, 'secret/app', 'v1', { authorization: ADMIN });
  });
  afterEach(() => reg.cleanup());

  it('lets anonymous callers pull a public namespace and nothing else', async () => {
    expectAnswer(await reg.request.get('/v2/public/app/manifests/v1'), 200);
    // What skopeo and podman send when they have no credentials.
    expectAnswer(await reg.request.get('/v2/public/app/manifests/v1').set('Authorization', basic('', '')), 200);
    expectAnswer(await reg.request.get('/v2/public/app/tags/list'), 200);
    const refused = await reg.request.get('/v2/team/app/manifests/v1');
    expectError(refused, 401, 'UNAUTHORIZED');
    expect(refused.headers['www-authenticate']).toBe('Basic realm="stowage-test"');
    // /v2/ still asks for credentials, so `docker login` sends them.
    expectError(await reg.request.get('/v2/'), 401, 'UNAUTHORIZED');
  });

  it('refuses an anonymous push to the public namespace with 401', async () => {
    const before = await snapshot(reg.paths.root);
    const { statuses } = await tryPushImage(reg, 'public/app', 'v2', { seed: 3 });
    expect(statuses).toEqual([401, 401, 401]);
    expect(await snapshot(reg.paths.root)).toEqual(before);
  });

  it('answers 403 DENIED when a logged-in user may pull but not push, storing nothing', async () => {
    const before = await snapshot(reg.paths.root);
    expectAnswer(await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', READER), 200);
    const upload = await reg.request.post('/v2/team/app/blobs/uploads/').set('Authorization', READER);
    expectError(upload, 403, 'DENIED');
    expect(upload.headers['www-authenticate']).toBeUndefined();
    const { statuses } = await tryPushImage(reg, 'team/app', 'v2', { authorization: READER, seed: 4 });
    expect(statuses).toEqual([403, 403, 403]);
    expectError(await reg.request.delete('/v2/team/app/manifests/v1').set('Authorization', READER), 403, 'DENIED');
    expect(await snapshot(reg.paths.root)).toEqual(before);
  });

  it('answers 403 DENIED for a repository the user may not touch at all', async () => {
    expectError(await reg.request.get('/v2/secret/app/manifests/v1').set('Authorization', DEV), 403, 'DENIED');
    expectError(await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', OUTSIDER), 403, 'DENIED');
  });

  it('gives group members what the group is granted', async () => {
    const { statuses } = await tryPushImage(reg, 'team/tool', 'v1', { authorization: DEV, seed: 5 });
    expect(statuses).toEqual([201, 201, 201]);
    expectError(await reg.request.delete('/v2/team/tool/manifests/v1').set('Authorization', DEV), 403, 'DENIED');
  });

  it('lists in the catalog only what the caller may pull', async () => {
    const list = async (authorization?: string) => {
      const req = reg.request.get('/v2/_catalog');
      const res = await (authorization ? req.set('Authorization', authorization) : req);
      expectAnswer(res, 200);
      return (JSON.parse(res.text) as { repositories: string[] }).repositories;
    };
    expect(await list(ADMIN)).toEqual(['public/app', 'secret/app', 'team/app']);
    expect(await list(READER)).toEqual(['public/app', 'secret/app', 'team/app']);
    expect(await list(DEV)).toEqual(['public/app', 'team/app']);
    expect(await list(OUTSIDER)).toEqual(['public/app']);
    expect(await list()).toEqual(['public/app']);
  });

  it('lists in the JSON status of GET / only the repositories the caller may pull', async () => {
    const names = async (authorization?: string) => {
      const req = reg.request.get('/').set('Accept', 'application/json');
      const res = await (authorization ? req.set('Authorization', authorization) : req);
      expect(res.status, res.text).toBe(200);
      const status = JSON.parse(res.text) as { repositories: Array<{ name: string }>; repositoryCount: number };
      expect(status.repositoryCount).toBe(status.repositories.length);
      return status.repositories.map((r) => r.name);
    };
    expect(await names(ADMIN)).toEqual(['public/app', 'secret/app', 'team/app']);
    expect(await names(DEV)).toEqual(['public/app', 'team/app']);
    expect(await names()).toEqual(['public/app']);
    expect(await names(OUTSIDER)).toEqual(['public/app']);
    expectError(await reg.request.get('/').set('Accept', 'application/json').set('Authorization', basic('admin', 'wrong')), 401, 'UNAUTHORIZED');
    // A browser goes to the web UI, whose API calls are checked the same way.
    expect((await reg.request.get('/').set('Authorization', basic('admin', 'wrong')).redirects(0)).status).toBe(302);
  });

  it('paginates the filtered catalog', async () => {
    const res = await reg.request.get('/v2/_catalog?n=1').set('Authorization', DEV);
    expectAnswer(res, 200);
    expect(JSON.parse(res.text).repositories).toEqual(['public/app']);
    expect(res.headers.link).toBe('</v2/_catalog?n=1&last=public%2Fapp>; rel="next"');
    const next = await reg.request.get('/v2/_catalog?n=1&last=public%2Fapp').set('Authorization', DEV);
    expect(JSON.parse(next.text).repositories).toEqual(['team/app']);
    expect(next.headers.link).toBeUndefined();
  });

  it('mounts from a source the user may pull (201)', async () => {
    const { layer } = await tryPushImage(reg, 'team/base', 'v1', { authorization: ADMIN, seed: 6 });
    const res = await reg.request.post(`/v2/team/tool/blobs/uploads/?mount=${layer.digest}&from=team/base`).set('Authorization', DEV);
    expectAnswer(res, 201);
    expectAnswer(await reg.request.head(`/v2/team/tool/blobs/${layer.digest}`).set('Authorization', DEV), 200);
  });

  it('falls back to an ordinary upload (202) when the user may not pull the mount source', async () => {
    const { layer } = await tryPushImage(reg, 'secret/base', 'v1', { authorization: ADMIN, seed: 7 });
    const res = await reg.request.post(`/v2/team/tool/blobs/uploads/?mount=${layer.digest}&from=secret/base`).set('Authorization', DEV);
    expectAnswer(res, 202);
    expect(res.headers['docker-upload-uuid']).toMatch(/^[0-9a-f-]{36}$/);
    // The blob was not linked into team/tool: the user learns nothing about secret/base.
    expectError(await reg.request.head(`/v2/team/tool/blobs/${layer.digest}`).set('Authorization', DEV), 404, 'BLOB_UNKNOWN', { head: true });
  });
});

describe('login slow-down and secrets', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: { auth: { loginlimit: { attempts: 3, window: '1m', lockout: '2s' } } },
      }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('answers 429 TOOMANYREQUESTS with Retry-After after repeated failures, then lets the client in again', async () => {
    for (let i = 0; i < 3; i++) expectError(await reg.request.get('/v2/').set('Authorization', basic('admin', `guess-${i}`)), 401, 'UNAUTHORIZED');
    const limited = await reg.request.get('/v2/').set('Authorization', basic('admin', 'guess-3'));
    expectError(limited, 429, 'TOOMANYREQUESTS');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(2);
    // While locked out even the right password is not checked ...
    expectError(await reg.request.get('/v2/').set('Authorization', ADMIN), 429, 'TOOMANYREQUESTS');
    // ... but a request without credentials is answered as usual.
    expectError(await reg.request.get('/v2/'), 401, 'UNAUTHORIZED');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expectAnswer(await reg.request.get('/v2/').set('Authorization', ADMIN), 200);
  });

  it("keeps counting an address's failed logins when another user logs in from it", async () => {
    for (let round = 0; round < 2; round++) {
      expectError(await reg.request.get('/v2/').set('Authorization', basic('admin', `guess-${round}`)), 401, 'UNAUTHORIZED');
      expectAnswer(await reg.request.get('/v2/').set('Authorization', READER), 200);
    }
    // The third failure from this address, whoever it was for and whoever logged in between.
    expectError(await reg.request.get('/v2/').set('Authorization', basic('nobody', 'guess')), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/v2/').set('Authorization', basic('outsider', 'not-the-password')), 429, 'TOOMANYREQUESTS');
  });

  it('locks out a user guessed at from several addresses, for every address', async () => {
    const from = (address: string, authorization: string) =>
      rawRequest(reg.port, 'GET', '/v2/', { headers: { Authorization: authorization }, localAddress: address });
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) expect((await from(address, basic('admin', `guess-${address}`))).status).toBe(401);
    // A fourth address gets no check for admin, even with the right password ...
    const refused = await from('127.0.0.5', ADMIN);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body.toString()).errors[0].code).toBe('TOOMANYREQUESTS');
    // ... while other users log in from it as usual.
    expect((await from('127.0.0.5', READER)).status).toBe(200);
  });

  it('never writes a password or the Authorization header to the log', async () => {
    const wrong = 'wrong-password-3c9d1e';
    await reg.request.get('/v2/').set('Authorization', basic('admin', wrong));
    await reg.request.get('/v2/').set('Authorization', ADMIN);
    await tryPushImage(reg, 'team/app', 'v1', { authorization: ADMIN });
    await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', basic('reader', wrong));
    const log = reg.logs.join('\n');
    expect(log).toContain('login failed');
    for (const secret of [wrong, USERS.admin, USERS.reader, ADMIN.slice(6), basic('admin', wrong).slice(6)]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('login slow-down under guesses sent at once', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      // bcrypt cost 12 (about 250 ms a check): the guesses below overlap the checks in progress.
      costs: { admin: 12 },
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: { auth: { loginlimit: { attempts: 5, window: '1m', lockout: '1m' } } },
      }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('checks at most the allowed guesses of one address, answers the rest 429, and serves other clients', async () => {
    const elsewhere = { localAddress: '127.0.0.2' };
    expect((await rawRequest(reg.port, 'GET', '/v2/', { headers: { Authorization: READER }, ...elsewhere })).status).toBe(200);
    const guesses = Array.from({ length: 20 }, (_, i) =>
      rawRequest(reg.port, 'GET', '/v2/', { headers: { Authorization: basic('admin', `guess-${i}`) } }),
    );
    // Another client, whose credentials were verified before, is answered as usual.
    expect((await rawRequest(reg.port, 'GET', '/v2/', { headers: { Authorization: READER }, ...elsewhere })).status).toBe(200);
    const statuses = (await Promise.all(guesses)).map((res) => res.status);
    const checked = statuses.filter((status) => status === 401).length;
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20 - checked);
    expect(reg.logs.filter((line) => line.includes('login failed'))).toHaveLength(checked);
  });
});
