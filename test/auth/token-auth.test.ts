// auth.token with the built-in token endpoint (stowage.auth.issuer) over HTTP, per the Docker token
// specification: Bearer challenges with realm, service and scope; GET /token with Basic
// credentials (or none) answering {token, access_token, expires_in, issued_at}; JWTs the registry
// verifies (issuer, audience, expiry, signature, access claim); insufficient_scope versus DENIED;
// the signing key generated at first start and kept across restarts.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSigningKeyPath } from '../../auth/open-auth.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { snapshot } from '../helpers/fs-snapshot.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const USERS = { admin: 'admin-pw-1a2b', reader: 'reader-pw-3c4d' };
const REALM = 'https://registry.example.test/token';
const SERVICE = 'stowage-test';

function tokenConfig(p: { htpasswd: string }, extra: Record<string, unknown> = {}) {
  return {
    auth: { token: { realm: REALM, service: SERVICE, issuer: 'stowage-test-issuer' } },
    stowage: {
      auth: {
        issuer: { htpasswd: p.htpasswd, expiry: '2m' },
        access: [
          { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
          { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
          { repositories: ['**'], users: ['reader'], actions: ['pull'] },
        ],
        ...extra,
      },
    },
  };
}

interface TokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

describe('token auth with the built-in issuer', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, { users: USERS, config: (p) => tokenConfig(p), logs: true });
  });
  afterEach(() => reg.cleanup());

  async function tokenFor(authorization: string | undefined, ...scopes: string[]): Promise<string> {
    const query = new URLSearchParams({ service: SERVICE });
    for (const scope of scopes) query.append('scope', scope);
    const req = reg.request.get(`/token?${query}`);
    const res = await (authorization ? req.set('Authorization', authorization) : req);
    expect(res.status, res.text).toBe(200);
    return (JSON.parse(res.text) as TokenAnswer).token;
  }

  const bearer = (token: string) => `Bearer ${token}`;

  it('challenges a request without a token with realm and service, and the scope it needs', async () => {
    const base = await reg.request.get('/v2/');
    expectError(base, 401, 'UNAUTHORIZED');
    expect(base.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="${SERVICE}"`);
    const pull = await reg.request.get('/v2/team/app/manifests/latest');
    expectError(pull, 401, 'UNAUTHORIZED');
    expect(pull.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull"`);
    const push = await reg.request.post('/v2/team/app/blobs/uploads/');
    expect(push.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull,push"`);
    const catalog = await reg.request.get('/v2/_catalog');
    expect(catalog.headers['www-authenticate']).toBe(`Bearer realm="${REALM}",service="${SERVICE}",scope="registry:catalog:*"`);
  });

  it('answers GET /token with a signed JWT holding what the rules grant of the requested scope', async () => {
    const res = await reg.request
      .get(`/token?service=${SERVICE}&scope=repository:team/app:pull,push&scope=repository:other/app:pull`)
      .set('Authorization', basic('admin', USERS.admin));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    const answer = JSON.parse(res.text) as TokenAnswer;
    expect(answer.access_token).toBe(answer.token);
    expect(answer.expires_in).toBe(120);
    expect(Math.abs(Date.parse(answer.issued_at) - Date.now())).toBeLessThan(5000);
    const header = decodeProtectedHeader(answer.token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const claims = decodeJwt(answer.token);
    expect(claims).toMatchObject({ iss: 'stowage-test-issuer', sub: 'admin', aud: SERVICE });
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.access).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'other/app', actions: ['pull'] },
    ]);
  });

  it('grants a pull-only user only pull, and anonymous callers only the public namespace', async () => {
    const reader = decodeJwt(await tokenFor(basic('reader', USERS.reader), 'repository:team/app:pull,push,delete'));
    expect(reader.access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const anonymous = decodeJwt(await tokenFor(undefined, 'repository:team/app:pull', 'repository:public/app:pull,push'));
    expect(anonymous.sub).toBe('');
    expect(anonymous.access).toEqual([{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
  });

  it('refuses wrong credentials at /token with 401 and a Basic challenge', async () => {
    const res = await reg.request.get(`/token?service=${SERVICE}&scope=repository:team/app:pull`).set('Authorization', basic('admin', 'wrong'));
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe(`Basic realm="${REALM}"`);
  });

  it('refuses to issue tokens for another service', async () => {
    const res = await reg.request.get('/token?service=elsewhere&scope=repository:team/app:pull').set('Authorization', basic('admin', USERS.admin));
    expectError(res, 403, 'DENIED');
  });

  it('answers the OAuth 2 password grant (POST /token) that containerd tries first', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: 'admin',
      password: USERS.admin,
      service: SERVICE,
      scope: 'repository:team/app:pull',
      client_id: 'test',
    });
    const res = await reg.request.post('/token').type('form').send(form.toString());
    expect(res.status, res.text).toBe(200);
    const answer = JSON.parse(res.text) as { access_token: string; expires_in: number };
    expect(decodeJwt(answer.access_token).access).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const wrong = await reg.request
      .post('/token')
      .type('form')
      .send(new URLSearchParams({ grant_type: 'password', username: 'admin', password: 'nope', service: SERVICE }).toString());
    expectError(wrong, 401, 'UNAUTHORIZED');
    const refresh = await reg.request.post('/token').type('form').send('grant_type=refresh_token&refresh_token=x');
    expectError(refresh, 400, 'UNSUPPORTED');
  });

  it('pushes and pulls with tokens', async () => {
    const token = await tokenFor(basic('admin', USERS.admin), 'repository:team/app:pull,push');
    const { manifest, statuses } = await tryPushImage(reg, 'team/app', 'v1', { authorization: bearer(token) });
    expect(statuses).toEqual([201, 201, 201]);
    const readerToken = await tokenFor(basic('reader', USERS.reader), 'repository:team/app:pull');
    const pulled = await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', bearer(readerToken)).set('Accept', manifest.mediaType);
    expectAnswer(pulled, 200);
    expect(pulled.headers['docker-content-digest']).toBe(manifest.digest);
    expectAnswer(await reg.request.get('/v2/').set('Authorization', bearer(readerToken)), 200);
  });

  it('answers 401 insufficient_scope when the token lacks a scope the user could get', async () => {
    const pullOnly = await tokenFor(basic('admin', USERS.admin), 'repository:team/app:pull');
    const res = await reg.request.post('/v2/team/app/blobs/uploads/').set('Authorization', bearer(pullOnly));
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull,push",error="insufficient_scope"`,
    );
    const elsewhere = await reg.request.get('/v2/other/app/tags/list').set('Authorization', bearer(pullOnly));
    expectError(elsewhere, 401, 'UNAUTHORIZED');
  });

  it('answers 403 DENIED with insufficient_scope when the rules refuse the user, storing nothing', async () => {
    await tryPushImage(reg, 'team/app', 'v1', {
      authorization: bearer(await tokenFor(basic('admin', USERS.admin), 'repository:team/app:pull,push')),
    });
    const before = await snapshot(reg.paths.root);
    const token = await tokenFor(basic('reader', USERS.reader), 'repository:team/app:pull,push');
    const { statuses } = await tryPushImage(reg, 'team/app', 'v2', { authorization: bearer(token), seed: 2 });
    expect(statuses).toEqual([403, 403, 403]);
    const res = await reg.request.post('/v2/team/app/blobs/uploads/').set('Authorization', bearer(token));
    expectError(res, 403, 'DENIED');
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(await snapshot(reg.paths.root)).toEqual(before);
  });

  it('answers 401 insufficient_scope to an anonymous token outside the public namespace', async () => {
    const anonymous = await tokenFor(undefined, 'repository:team/app:pull');
    const res = await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', bearer(anonymous));
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('lets an anonymous token pull the public namespace', async () => {
    const admin = await tokenFor(basic('admin', USERS.admin), 'repository:public/app:pull,push');
    await tryPushImage(reg, 'public/app', 'v1', { authorization: bearer(admin) });
    const anonymous = await tokenFor(undefined, 'repository:public/app:pull');
    expectAnswer(await reg.request.get('/v2/public/app/manifests/v1').set('Authorization', bearer(anonymous)), 200);
  });

  it('lists in the catalog, with the catalog scope, only what the caller may pull', async () => {
    const admin = await tokenFor(basic('admin', USERS.admin), 'repository:public/app:pull,push', 'repository:team/app:pull,push');
    await tryPushImage(reg, 'public/app', 'v1', { authorization: bearer(admin) });
    await tryPushImage(reg, 'team/app', 'v1', { authorization: bearer(admin) });
    const noCatalogScope = await reg.request.get('/v2/_catalog').set('Authorization', bearer(admin));
    expectError(noCatalogScope, 401, 'UNAUTHORIZED');
    expect(noCatalogScope.headers['www-authenticate']).toContain('scope="registry:catalog:*",error="insufficient_scope"');
    const list = async (authorization: string | undefined) => {
      const res = await reg.request.get('/v2/_catalog').set('Authorization', bearer(await tokenFor(authorization, 'registry:catalog:*')));
      expectAnswer(res, 200);
      return JSON.parse(res.text).repositories as string[];
    };
    expect(await list(basic('admin', USERS.admin))).toEqual(['public/app', 'team/app']);
    expect(await list(undefined)).toEqual(['public/app']);
  });

  it('asks for a token with the catalog scope for the JSON status of GET / too', async () => {
    const res = await reg.request.get('/').set('Accept', 'application/json');
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toContain('scope="registry:catalog:*"');
    const token = await tokenFor(basic('reader', USERS.reader), 'registry:catalog:*');
    expect((await reg.request.get('/').set('Accept', 'application/json').set('Authorization', bearer(token))).status).toBe(200);
  });

  it('mounts only from a source the token may pull, else falls back to an upload', async () => {
    const admin = await tokenFor(basic('admin', USERS.admin), 'repository:team/base:pull,push');
    const { layer } = await tryPushImage(reg, 'team/base', 'v1', { authorization: bearer(admin), seed: 3 });
    const withSource = await tokenFor(basic('admin', USERS.admin), 'repository:team/app:pull,push', 'repository:team/base:pull');
    const withoutSource = await tokenFor(basic('admin', USERS.admin), 'repository:team/other:pull,push');
    expectAnswer(
      await reg.request.post(`/v2/team/app/blobs/uploads/?mount=${layer.digest}&from=team/base`).set('Authorization', bearer(withSource)),
      201,
    );
    expectAnswer(
      await reg.request.post(`/v2/team/other/blobs/uploads/?mount=${layer.digest}&from=team/base`).set('Authorization', bearer(withoutSource)),
      202,
    );
  });

  it("asks for pull on a mount's source in the challenge, so the token fetched for it lets the mount happen", async () => {
    const admin = await tokenFor(basic('admin', USERS.admin), 'repository:team/base:pull,push');
    const { layer } = await tryPushImage(reg, 'team/base', 'v1', { authorization: bearer(admin), seed: 4 });
    const mount = `/v2/team/app/blobs/uploads/?mount=${layer.digest}&from=team/base`;
    const challenged = await reg.request.post(mount);
    expectError(challenged, 401, 'UNAUTHORIZED');
    const scope = /,scope="([^"]*)"/.exec(challenged.headers['www-authenticate'])?.[1];
    expect(scope).toBe('repository:team/app:pull,push repository:team/base:pull');
    // As docker/distribution's client does: a token for what the challenge names, then the request again.
    const token = await tokenFor(basic('admin', USERS.admin), scope!);
    const mounted = await reg.request.post(mount).set('Authorization', bearer(token));
    expectAnswer(mounted, 201);
    expect(mounted.headers['docker-content-digest']).toBe(layer.digest);
  });

  it('refuses a malformed token, a forged one and an expired one with invalid_token', async () => {
    const forgedKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const realKey = createPrivateKey(await fsp.readFile(defaultSigningKeyPath(reg.paths.root), 'utf8'));
    const kid = decodeProtectedHeader(await tokenFor(undefined)).kid!;
    const sign = (key: typeof realKey, claims: { exp: number; iss?: string; aud?: string }) =>
      new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
        .setIssuer(claims.iss ?? 'stowage-test-issuer')
        .setAudience(claims.aud ?? SERVICE)
        .setSubject('admin')
        .setExpirationTime(claims.exp)
        .sign(key);
    const now = Math.floor(Date.now() / 1000);
    const valid = await sign(realKey, { exp: now + 60 });
    expectAnswer(await reg.request.get('/v2/team/app/tags/list').set('Authorization', bearer(valid)), 404);
    const refused = [
      'not-a-jwt',
      `${valid.slice(0, -4)}AAAA`,
      await sign(forgedKey, { exp: now + 60 }),
      await sign(realKey, { exp: now - 120 }),
      await sign(realKey, { exp: now + 60, iss: 'someone-else' }),
      await sign(realKey, { exp: now + 60, aud: 'another-registry' }),
    ];
    for (const token of refused) {
      const res = await reg.request.get('/v2/team/app/tags/list').set('Authorization', bearer(token));
      expectError(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="${REALM}",service="${SERVICE}",scope="repository:team/app:pull",error="invalid_token"`,
      );
    }
    const log = reg.logs.join('\n');
    expect(log).toContain('token refused');
    expect(log).not.toContain(valid.split('.')[2]);
  });

  it('refuses Basic credentials at the registry itself: it takes tokens only', async () => {
    const res = await reg.request.get('/v2/').set('Authorization', basic('admin', USERS.admin));
    expectError(res, 401, 'UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('generates the signing key at first start, mode 0600, and keeps it across restarts', async () => {
    const keyFile = defaultSigningKeyPath(reg.paths.root);
    expect((await fsp.stat(keyFile)).mode & 0o777).toBe(0o600);
    const token = await tokenFor(basic('reader', USERS.reader), 'repository:team/app:pull');
    await reg.restart();
    expectAnswer(await reg.request.get('/v2/').set('Authorization', bearer(token)), 200);
  });

  it('slows down repeated failed logins at /token too', async () => {
    for (let i = 0; i < 5; i++) await reg.request.get(`/token?service=${SERVICE}`).set('Authorization', basic('admin', `guess-${i}`));
    const res = await reg.request.get(`/token?service=${SERVICE}`).set('Authorization', basic('admin', USERS.admin));
    expectError(res, 429, 'TOOMANYREQUESTS');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('token auth with a configured signing key', () => {
  it('signs with the key from stowage.auth.issuer.key (RSA here) and refuses to start without it', async () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => {
        writeFileSync(`${p.dir}/issuer.pem`, pem);
        return tokenConfig(p, { issuer: { htpasswd: p.htpasswd, key: `${p.dir}/issuer.pem` } });
      },
      logs: true,
    });
    try {
      const res = await reg.request.get(`/token?service=${SERVICE}&scope=repository:a:pull`).set('Authorization', basic('reader', USERS.reader));
      expect(res.status, res.text).toBe(200);
      const token = (JSON.parse(res.text) as TokenAnswer).token;
      expect(decodeProtectedHeader(token).alg).toBe('RS256');
      expectAnswer(await reg.request.get('/v2/').set('Authorization', `Bearer ${token}`), 200);
      await expect(fsp.stat(defaultSigningKeyPath(reg.paths.root))).rejects.toThrow();
    } finally {
      await reg.cleanup();
    }
    await expect(
      startTestRegistry(filesystemDriverFactory, {
        users: USERS,
        config: (p) => tokenConfig(p, { issuer: { htpasswd: p.htpasswd, key: `${p.dir}/missing.pem` } }),
        logs: true,
      }),
    ).rejects.toThrow(/stowage.auth.issuer.key: token signing key .*missing.pem does not exist/);
  });
});
