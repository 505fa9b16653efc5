// Robot accounts over HTTP, on SQLite and PostgreSQL: admins create them through /admin/robots,
// a robot logs in as robot$NAME (Basic with auth.htpasswd, or a token from /token) and may do
// exactly its grants (403 elsewhere, whatever the access rules give users); removed or expired,
// its logins and the tokens it already holds are refused; the secret is never stored nor logged.
import { createHash, createPrivateKey } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSigningKeyPath } from '../../auth/open-auth.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { tryPushImage } from '../helpers/images.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const USERS = { admin: 'admin-pw-91e0', reader: 'reader-pw-42aa' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);
const ACCESS = [
  { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
  { repositories: ['**'], authenticated: true, actions: ['pull'] },
];
const REALM = 'https://registry.example.test/token';
const SERVICE = 'stowage-test';

interface Created {
  login: string;
  secret: string;
}

async function createRobot(reg: TestRegistry, admin: string, body: Record<string, unknown>): Promise<Created> {
  const res = await reg.request.post('/admin/robots').set('Authorization', admin).set('Content-Type', 'application/json').send(body);
  expect(res.status, res.text).toBe(201);
  return res.body as Created;
}

describe('robot accounts without auth', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory);
  });
  afterEach(() => reg.cleanup());

  it('refuses to manage them, rather than hand credentials to anyone', async () => {
    const list = await reg.request.get('/admin/robots');
    expectError(list, 403, 'DENIED');
    expect(list.text).toContain('managing robot accounts needs auth');
    expectError(await reg.request.post('/admin/robots').send({ name: 'ci', repositories: ['**'], actions: ['pull'] }), 403, 'DENIED');
    expectError(await reg.request.delete('/admin/robots/ci'), 403, 'DENIED');
    expect(await reg.storage.robots!.list()).toEqual([]);
  });
});

describe.each(DATABASE_KINDS)('robot accounts with htpasswd on $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      database: kind.name,
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } }, stowage: { auth: { admins: ['admin'], access: ACCESS } } }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('lets only admins manage robots', async () => {
    expectError(await reg.request.get('/admin/robots'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/admin/robots').set('Authorization', READER), 403, 'DENIED');
    const robot = await createRobot(reg, ADMIN, { name: 'ci', repositories: ['team/**'], actions: ['pull', 'push'], expires: '90d' });
    expect(robot.login).toBe('robot$ci');
    const asRobot = basic(robot.login, robot.secret);
    expectError(await reg.request.get('/admin/robots').set('Authorization', asRobot), 403, 'DENIED');
    expectError(
      await reg.request
        .post('/admin/robots')
        .set('Authorization', READER)
        .send({ name: 'x', repositories: ['**'], actions: ['pull'] }),
      403,
      'DENIED',
    );
    const list = await reg.request.get('/admin/robots').set('Authorization', ADMIN);
    expectAnswer(list, 200);
    expect(list.body.robots).toEqual([
      expect.objectContaining({ name: 'ci', login: 'robot$ci', repositories: ['team/**'], actions: ['pull', 'push'] }),
    ]);
    expect(list.text).not.toContain(robot.secret);
    expect(list.text).not.toContain('secret');
    // Bad input: 400; a name taken: 409; an unknown robot: 404. None of them changes what is stored.
    const before = await reg.storage.robots!.list();
    for (const body of [
      { name: 'Bad', repositories: ['a'], actions: ['pull'] },
      { name: 'ok', repositories: ['../a'], actions: ['pull'] },
      { name: 'ok', repositories: ['a'], actions: ['fly'] },
      { name: 'ok', repositories: ['a'], actions: ['pull'], expires: '9y' },
    ]) {
      expectError(await reg.request.post('/admin/robots').set('Authorization', ADMIN).send(body), 400, 'UNSUPPORTED');
    }
    expectError(
      await reg.request
        .post('/admin/robots')
        .set('Authorization', ADMIN)
        .send({ name: 'ci', repositories: ['a'], actions: ['pull'] }),
      409,
      'UNSUPPORTED',
    );
    expectError(await reg.request.delete('/admin/robots/nobody').set('Authorization', ADMIN), 404, 'NAME_UNKNOWN');
    expect(await reg.storage.robots!.list()).toEqual(before);
    // The robot whose name was asked for again keeps its secret.
    expectAnswer(await reg.request.get('/v2/').set('Authorization', asRobot), 200);
  });

  it('lets a robot push and pull within its grants only, and refuses it after removal', async () => {
    const robot = await createRobot(reg, ADMIN, { name: 'ci', repositories: ['team/**'], actions: ['pull', 'push'] });
    const asRobot = basic(robot.login, robot.secret);
    expectAnswer(await reg.request.get('/v2/').set('Authorization', asRobot), 200);
    const { manifest, statuses } = await tryPushImage(reg, 'team/app', 'v1', { authorization: asRobot });
    expect(statuses).toEqual([201, 201, 201]);
    expectAnswer(await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', asRobot).set('Accept', manifest.mediaType), 200);
    // Outside its grants: refused, although the rules let every logged-in user pull anything.
    await tryPushImage(reg, 'other/app', 'v1', { authorization: ADMIN, seed: 2 });
    expectError(await reg.request.get('/v2/other/app/manifests/v1').set('Authorization', asRobot), 403, 'DENIED');
    expect((await tryPushImage(reg, 'other/app', 'v2', { authorization: asRobot, seed: 3 })).statuses[0]).toBe(403);
    expectError(await reg.request.delete(`/v2/team/app/manifests/${manifest.digest}`).set('Authorization', asRobot), 403, 'DENIED');
    const catalog = await reg.request.get('/v2/_catalog').set('Authorization', asRobot);
    expect(catalog.body.repositories).toEqual(['team/app']);
    // The last use is recorded (written beside the request, so polled).
    await expect.poll(async () => (await reg.storage.robots!.get('ci'))?.lastUsedAt).toBeTypeOf('number');

    expect((await reg.request.delete('/admin/robots/ci').set('Authorization', ADMIN)).status).toBe(204);
    expectError(await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', asRobot), 401, 'UNAUTHORIZED');
    expect(reg.logs.join('\n')).not.toContain(robot.secret);
  });

  it('keeps only a hash of the secret', async () => {
    const robot = await createRobot(reg, ADMIN, { name: 'ci', repositories: ['team/**'], actions: ['pull'] });
    const rows = await reg.storage.robots!.database.db.selectFrom('robots').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(robot.secret);
    expect(rows[0].secret_hash).toBe(createHash('sha256').update(robot.secret).digest('hex'));
  });

  it('refuses an expired robot', async () => {
    const secret = 'expired-robot-secret-0123456789abcdef0123456';
    await reg.storage.robots!.create({
      name: 'old',
      secretHash: createHash('sha256').update(secret).digest('hex'),
      repositories: ['**'],
      actions: ['pull'],
      createdAt: Date.now() - 10_000,
      expiresAt: Date.now() - 1000,
    });
    expectError(await reg.request.get('/v2/').set('Authorization', basic('robot$old', secret)), 401, 'UNAUTHORIZED');
  });

  it('counts wrong robot secrets in the login limiter', async () => {
    await createRobot(reg, ADMIN, { name: 'ci', repositories: ['team/**'], actions: ['pull'] });
    for (let i = 0; i < 5; i++) expectError(await reg.request.get('/v2/').set('Authorization', basic('robot$ci', `guess-${i}`)), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/v2/').set('Authorization', basic('robot$ci', 'guess-5')), 429, 'TOOMANYREQUESTS');
  });
});

describe('robot logins without a metadata database', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      database: 'none',
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } }, stowage: { auth: { admins: ['admin'] } } }),
    });
  });
  afterEach(() => reg.cleanup());

  it('are unknown users, and robots cannot be made', async () => {
    expectError(await reg.request.get('/v2/').set('Authorization', basic('robot$ci', 'whatever')), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/admin/robots').set('Authorization', ADMIN), 405, 'UNSUPPORTED');
  });
});

describe.each(DATABASE_KINDS)('robot accounts with the token issuer on $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      database: kind.name,
      config: (p) => ({
        auth: { token: { realm: REALM, service: SERVICE, issuer: 'stowage-test-issuer' } },
        stowage: { auth: { issuer: { htpasswd: p.htpasswd, expiry: '5m' }, admins: ['admin'], access: ACCESS } },
      }),
    });
  });
  afterEach(() => reg.cleanup());

  async function tokenFor(authorization: string, ...scopes: string[]): Promise<string> {
    const query = new URLSearchParams({ service: SERVICE });
    for (const scope of scopes) query.append('scope', scope);
    const res = await reg.request.get(`/token?${query}`).set('Authorization', authorization);
    expect(res.status, res.text).toBe(200);
    return `Bearer ${res.body.token as string}`;
  }

  it('issues a robot tokens holding only its grants, and refuses the tokens it holds once removed', async () => {
    const admin = await tokenFor(ADMIN);
    const robot = await createRobot(reg, admin, { name: 'ci', repositories: ['team/**'], actions: ['pull', 'push'] });
    const asRobot = basic(robot.login, robot.secret);
    const granted = await tokenFor(asRobot, 'repository:team/app:pull,push,delete', 'repository:other/app:pull');
    expect(decodeJwt(granted.slice(7))).toMatchObject({
      sub: 'robot$ci',
      access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
    });
    expect((await tryPushImage(reg, 'team/app', 'v1', { authorization: granted })).statuses).toEqual([201, 201, 201]);
    expectAnswer(await reg.request.get('/v2/team/app/tags/list').set('Authorization', granted), 200);
    const elsewhere = await tokenFor(asRobot, 'repository:other/app:pull');
    expectError(await reg.request.get('/v2/other/app/tags/list').set('Authorization', elsewhere), 403, 'DENIED');

    expect((await reg.request.delete('/admin/robots/ci').set('Authorization', admin)).status).toBe(204);
    const refused = await reg.request.get('/v2/team/app/tags/list').set('Authorization', granted);
    expectError(refused, 401, 'UNAUTHORIZED');
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    expectError(await reg.request.get(`/token?service=${SERVICE}&scope=repository:team/app:pull`).set('Authorization', asRobot), 401, 'UNAUTHORIZED');
  });

  it('refuses a token of an expired robot, though signed by the registry', async () => {
    await reg.storage.robots!.create({
      name: 'old',
      secretHash: createHash('sha256').update('unused').digest('hex'),
      repositories: ['**'],
      actions: ['pull'],
      createdAt: Date.now() - 60_000,
      expiresAt: Date.now() - 1000,
    });
    const key = createPrivateKey(await fsp.readFile(defaultSigningKeyPath(reg.paths.root), 'utf8'));
    const kid = decodeProtectedHeader((await tokenFor(READER)).slice(7)).kid!;
    const now = Math.floor(Date.now() / 1000);
    const sign = (subject: string) =>
      new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
        .setIssuer('stowage-test-issuer')
        .setAudience(SERVICE)
        .setSubject(subject)
        .setIssuedAt(now - 30)
        .setExpirationTime(now + 60)
        .sign(key);
    // The same token for a user passes: only the robot's expiry refuses it.
    expectAnswer(await reg.request.get('/v2/team/app/tags/list').set('Authorization', `Bearer ${await sign('reader')}`), 404);
    expectError(await reg.request.get('/v2/team/app/tags/list').set('Authorization', `Bearer ${await sign('robot$old')}`), 401, 'UNAUTHORIZED');
  });
});
