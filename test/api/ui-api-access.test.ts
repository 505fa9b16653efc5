// The JSON API for the web UI with auth on, on SQLite and PostgreSQL: the session (anonymous is a
// session, a wrong password is 401), the challenge under X-Stowage-Authenticate for requests
// marked X-Stowage-UI so browsers show no dialog of their own, actions that follow the access
// rules, the registry's mode and what a token holds, and namespaces, sorted pages and usage that
// show only what the caller may pull.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { pushImage, tryPushImage } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { PACKAGE } from '../../server/version.js';

const USERS = { admin: 'admin-pw-8d1e', reader: 'reader-pw-2f7a' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);
const RULES = [
  { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
  { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
  { repositories: ['team/**'], users: ['reader'], actions: ['pull'] },
  { repositories: ['team/web'], users: ['reader'], actions: ['push'] },
];
const NAMES = ['public/app', 'secret/a', 'secret/b', 'team/app', 'team/web', 'team/db'];

describe.each(DATABASE_KINDS)('the web UI API with htpasswd on $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      database: kind.name,
      users: USERS,
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } }, stowage: { auth: { access: RULES } } }),
    });
    for (const [i, name] of NAMES.entries()) {
      const { statuses } = await tryPushImage(reg, name, 'v1', { authorization: ADMIN, seed: i + 1, layers: [randomBlob(1000 * (i + 1), i + 1)] });
      expect(statuses.every((s) => s === 201)).toBe(true);
    }
  });
  afterEach(() => reg.cleanup());

  const get = (path: string, authorization?: string, ui = false) => {
    let req = reg.request.get(path);
    if (authorization) req = req.set('Authorization', authorization);
    if (ui) req = req.set('X-Stowage-UI', '1');
    return req;
  };

  it('answers the session: anonymous without credentials, the user with them, 401 for a wrong password', async () => {
    const session = { auth: 'htpasswd', deleteEnabled: true, readOnly: false, version: PACKAGE.version, name: 'stowage' };
    expect((await get('/api/v1/session')).body).toEqual({ ...session, user: null });
    expect((await get('/api/v1/session', READER)).body).toEqual({ ...session, user: 'reader' });
    const wrong = await get('/api/v1/session', basic('reader', 'wrong'));
    expectError(wrong, 401, 'UNAUTHORIZED');
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="stowage-test"');
  });

  it('sends the challenge as X-Stowage-Authenticate to the web UI, on /api/v1 and /v2 alike', async () => {
    for (const [path, authorization] of [
      ['/api/v1/session', basic('reader', 'wrong')],
      ['/api/v1/tags/team/app', undefined],
      ['/v2/', undefined],
      ['/v2/team/app/manifests/v1', undefined],
    ] as const) {
      const plain = await get(path, authorization);
      const fromUi = await get(path, authorization, true);
      expectError(fromUi, 401, 'UNAUTHORIZED');
      expect(fromUi.headers['www-authenticate'], path).toBeUndefined();
      expect(fromUi.headers['x-stowage-authenticate'], path).toBe('Basic realm="stowage-test"');
      expect(plain.headers['www-authenticate'], path).toBe('Basic realm="stowage-test"');
      expect(plain.headers['x-stowage-authenticate'], path).toBeUndefined();
      expect(fromUi.body).toEqual(plain.body);
    }
    // Other answers are as they were.
    expect((await get('/api/v1/tags/public/app', undefined, true)).status).toBe(200);
    expectError(await get('/api/v1/tags/secret/a', READER, true), 403, 'DENIED');
  });

  it("offers the actions the caller's rules allow", async () => {
    const actions = async (name: string, authorization?: string) => (await get(`/api/v1/repositories/${name}`, authorization)).body.actions;
    expect(await actions('team/app', ADMIN)).toEqual({ pull: true, push: true, delete: true });
    expect(await actions('team/app', READER)).toEqual({ pull: true, push: false, delete: false });
    expect(await actions('team/web', READER)).toEqual({ pull: true, push: true, delete: false });
    expect(await actions('public/app')).toEqual({ pull: true, push: false, delete: false });
    expectError(await get('/api/v1/repositories/secret/a', READER), 403, 'DENIED');
  });

  it('lists namespaces, sorted pages and usage of only what the caller may pull', async () => {
    const namespaces = async (authorization?: string) =>
      ((await get('/api/v1/namespaces', authorization)).body.namespaces as Array<{ name: string; repositories: number }>).map((n) => [
        n.name,
        n.repositories,
      ]);
    expect(await namespaces(ADMIN)).toEqual([
      ['public', 1],
      ['secret', 2],
      ['team', 3],
    ]);
    expect(await namespaces(READER)).toEqual([
      ['public', 1],
      ['team', 3],
    ]);
    expect(await namespaces()).toEqual([['public', 1]]);

    // Largest first, two per page, through the cursor: what the reader sees, in order.
    const walked: string[] = [];
    let next: string | null = '/api/v1/repositories?sort=size&order=desc&n=2';
    while (next) {
      const body = (await get(next, READER)).body as { repositories: Array<{ name: string }>; next: string | null };
      expect(body.repositories.length).toBeLessThanOrEqual(2);
      walked.push(...body.repositories.map((r) => r.name));
      next = body.next;
    }
    expect(walked).toEqual(['team/db', 'team/web', 'team/app', 'public/app']);

    const usage = (await get('/api/v1/usage', READER)).body;
    expect(usage.namespaces.map((n: { name: string }) => n.name)).toEqual(['team', 'public']);
    expect(usage.repositories.map((r: { name: string }) => r.name)).toEqual(['team/db', 'team/web', 'team/app', 'public/app']);
    // Totals name nothing: registry-wide for everyone.
    const all = (await get('/api/v1/stats', ADMIN)).body;
    expect((await get('/api/v1/stats', READER)).body).toEqual(all);
    expect(all).toMatchObject({ repositories: 6, tags: 6 });
    expect(usage.storedBytes).toBe(all.storedBytes);
  });
});

describe('the web UI API with tokens', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { token: { realm: '/token', service: 'stowage-test', issuer: 'stowage-test-issuer' } },
        stowage: { auth: { issuer: { htpasswd: p.htpasswd, expiry: '2m' }, access: RULES } },
      }),
    });
  });
  afterEach(() => reg.cleanup());

  async function token(authorization: string, scope?: string): Promise<string> {
    const query = scope === undefined ? '' : `&scope=${encodeURIComponent(scope)}`;
    const res = await reg.request.get(`/token?service=stowage-test${query}`).set('Authorization', authorization);
    expect(res.status, res.text).toBe(200);
    return (res.body as { token: string }).token;
  }

  it('answers the session from a token, anonymous without one, 401 for a bad one', async () => {
    expect((await reg.request.get('/api/v1/session')).body).toMatchObject({ auth: 'token', user: null });
    const signedIn = await token(READER);
    expect((await reg.request.get('/api/v1/session').set('Authorization', `Bearer ${signedIn}`)).body).toMatchObject({
      auth: 'token',
      user: 'reader',
    });
    const bad = await reg.request.get('/api/v1/session').set('Authorization', 'Bearer not.a.token').set('X-Stowage-UI', '1');
    expectError(bad, 401, 'UNAUTHORIZED');
    expect(bad.headers['www-authenticate']).toBeUndefined();
    expect(bad.headers['x-stowage-authenticate']).toMatch(/^Bearer realm="\/token",service="stowage-test"/);
  });

  it('offers the actions the rules allow whatever scope the token holds', async () => {
    const push = await token(ADMIN, 'repository:team/app:pull,push');
    expect((await tryPushImage(reg, 'team/app', 'v1', { authorization: `Bearer ${push}` })).statuses.every((s) => s === 201)).toBe(true);
    const actions = async (authorization: string) =>
      (await reg.request.get('/api/v1/repositories/team/app').set('Authorization', authorization)).body.actions;
    expect(await actions(`Bearer ${await token(READER, 'repository:team/app:pull')}`)).toEqual({ pull: true, push: false, delete: false });
    expect(await actions(`Bearer ${await token(ADMIN, 'repository:team/app:pull')}`)).toEqual({ pull: true, push: true, delete: true });
  });
});

describe('the session and actions of a registry that refuses deletes or writes', () => {
  const noDeletes = useTestRegistry(filesystemDriverFactory, { config: { storage: { delete: { enabled: false } } } });

  it('offers no delete while deletes are disabled', async () => {
    const reg = noDeletes();
    await pushImage(reg, 'team/app', 'v1');
    expect((await reg.request.get('/api/v1/session')).body).toMatchObject({ auth: 'none', user: null, deleteEnabled: false, readOnly: false });
    expect((await reg.request.get('/api/v1/repositories/team/app')).body.actions).toEqual({ pull: true, push: true, delete: false });
  });
});

describe('the session and actions of a read-only registry', () => {
  const readOnly = useTestRegistry(filesystemDriverFactory, { config: { storage: { maintenance: { readonly: { enabled: true } } } } });

  it('offers pull alone', async () => {
    const reg = readOnly();
    await pushImage(reg.storage, 'team/app', 'v1');
    expect((await reg.request.get('/api/v1/session')).body).toMatchObject({ deleteEnabled: true, readOnly: true });
    expect((await reg.request.get('/api/v1/repositories/team/app')).body.actions).toEqual({ pull: true, push: false, delete: false });
  });
});
