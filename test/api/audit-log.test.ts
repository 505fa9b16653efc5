// The audit log over HTTP, on SQLite and PostgreSQL: every push, delete, mount, retag, login and
// failed login, robot change, GC run and refusal is recorded with its actor, client address and
// result, in the database (read through GET /admin/audit, admins only, filtered and paged) and as
// JSON lines in stowage.audit.path, in the same order; secrets sent appear in neither.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { tryPushImage } from '../helpers/images.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { collectGarbage } from '../../storage/jobs/gc.js';

const USERS = { admin: 'admin-pw-5c1f7a', reader: 'reader-pw-9b02de' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);
const WRONG = 'wrong-pw-77e3c9';
const ACCESS = [
  { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
  { repositories: ['**'], authenticated: true, actions: ['pull'] },
];
const IMMUTABLE = [{ repositories: ['rel/**'], tags: ['v*'] }];

type Event = Record<string, unknown> & { id: number; action: string; result: string };

/** Every event, newest first, through the API. */
async function allEvents(reg: TestRegistry, query = '', authorization = ADMIN): Promise<Event[]> {
  const res = await reg.request.get(`/admin/audit?n=1000${query}`).set('Authorization', authorization);
  expectAnswer(res, 200);
  return res.body.events as Event[];
}

function auditFile(reg: TestRegistry): string {
  return path.join(reg.paths.dir, 'audit.jsonl');
}

async function fileEvents(reg: TestRegistry): Promise<Array<Record<string, unknown>>> {
  await reg.storage.audit.flush();
  const text = await readFile(auditFile(reg), 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.each(DATABASE_KINDS)('the audit log with htpasswd on $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      database: kind.name,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: { auth: { admins: ['admin'], access: ACCESS }, immutable: IMMUTABLE, audit: { path: path.join(p.dir, 'audit.jsonl') } },
      }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('records each action with its actor, address and result, in the database and the file alike, without secrets', async () => {
    // docker login's first probe: no row. Then the login, a wrong password, and a robot.
    expectError(await reg.request.get('/v2/'), 401, 'UNAUTHORIZED');
    expectAnswer(await reg.request.get('/v2/').set('Authorization', ADMIN), 200);
    expectError(await reg.request.get('/v2/').set('Authorization', basic('reader', WRONG)), 401, 'UNAUTHORIZED');
    const robotRes = await reg.request
      .post('/admin/robots')
      .set('Authorization', ADMIN)
      .send({ name: 'ci', repositories: ['team/**'], actions: ['pull', 'push'] });
    expect(robotRes.status, robotRes.text).toBe(201);
    const robotSecret = robotRes.body.secret as string;
    const asRobot = basic('robot$ci', robotSecret);
    expectAnswer(await reg.request.get('/v2/').set('Authorization', asRobot), 200);

    // A push, by the admin and by the robot; the reader is refused.
    const pushed = await tryPushImage(reg, 'team/app', 'v1', { authorization: ADMIN, seed: 1 });
    expect(pushed.statuses).toEqual([201, 201, 201]);
    expect((await tryPushImage(reg, 'team/app', 'v2', { authorization: asRobot, seed: 2 })).statuses).toEqual([201, 201, 201]);
    expect((await tryPushImage(reg, 'team/app', 'v3', { authorization: READER, seed: 3 })).statuses[0]).toBe(403);
    // An immutable tag moved: 403 DENIED, recorded as a refused push naming the rule.
    await tryPushImage(reg, 'rel/app', 'v1', { authorization: ADMIN, seed: 4 });
    const moved = await tryPushImage(reg, 'rel/app', 'v1', { authorization: ADMIN, seed: 5 });
    expect(moved.statuses).toEqual([201, 201, 403]);
    // A mount, a retag, deletes of a tag and a blob, an anonymous pull of a named repository.
    const mount = await reg.request.post(`/v2/team/copy/blobs/uploads/?mount=${pushed.layer.digest}&from=team/app`).set('Authorization', ADMIN);
    expect(mount.status).toBe(201);
    expectAnswer(
      await reg.request.post('/admin/retag').set('Authorization', ADMIN).send({ source: 'team/app:v1', destination: 'team/copy:v1' }),
      201,
    );
    expectAnswer(await reg.request.delete('/v2/team/app/manifests/v2').set('Authorization', ADMIN), 202);
    expectAnswer(await reg.request.delete(`/v2/team/copy/blobs/${pushed.layer.digest}`).set('Authorization', ADMIN), 202);
    expectError(await reg.request.get('/v2/team/app/manifests/v1'), 401, 'UNAUTHORIZED');
    expectAnswer(await reg.request.delete('/admin/robots/ci').set('Authorization', ADMIN), 204);
    await collectGarbage(reg.storage, { gracePeriodMs: 0 });

    const events = (await allEvents(reg)).reverse();
    const summary = events.map((e) => [e.action, e.user ?? null, e.userKind, e.result, e.status ?? null, e.repository ?? null, e.reference ?? null]);
    expect(summary).toEqual([
      ['login', 'admin', 'user', 'ok', 200, null, null],
      ['login', 'reader', 'user', 'unauthorized', 401, null, null],
      ['robot-create', 'admin', 'user', 'ok', 201, null, null],
      ['login', 'robot$ci', 'robot', 'ok', 200, null, null],
      ['push', 'admin', 'user', 'ok', 201, 'team/app', 'v1'],
      ['push', 'robot$ci', 'robot', 'ok', 201, 'team/app', 'v2'],
      ['push', 'reader', 'user', 'denied', 403, 'team/app', null],
      ['push', 'reader', 'user', 'denied', 403, 'team/app', null],
      ['push', 'reader', 'user', 'denied', 403, 'team/app', 'v3'],
      ['push', 'admin', 'user', 'ok', 201, 'rel/app', 'v1'],
      ['push', 'admin', 'user', 'denied', 403, 'rel/app', 'v1'],
      ['mount', 'admin', 'user', 'ok', 201, 'team/copy', null],
      ['retag', 'admin', 'user', 'ok', null, 'team/copy', 'v1'],
      ['delete', 'admin', 'user', 'ok', 202, 'team/app', 'v2'],
      ['delete', 'admin', 'user', 'ok', 202, 'team/copy', null],
      ['pull', null, 'anonymous', 'unauthorized', 401, 'team/app', 'v1'],
      ['robot-rm', 'admin', 'user', 'ok', 204, null, null],
      ['gc', 'stowage', 'system', 'ok', null, null, null],
    ]);
    const byAction = (action: string, result = 'ok') => events.find((e) => e.action === action && e.result === result)!;
    expect(byAction('push')).toMatchObject({ digest: pushed.manifest.digest, client: '127.0.0.1', requestId: expect.any(String) });
    expect(byAction('push', 'denied').detail).toContain('DENIED');
    expect(events.find((e) => e.repository === 'rel/app' && e.result === 'denied')!.detail).toContain('is immutable (stowage.immutable rule 1');
    expect(byAction('mount')).toMatchObject({ digest: pushed.layer.digest, detail: 'from team/app' });
    expect(byAction('retag')).toMatchObject({ digest: pushed.manifest.digest, detail: 'from team/app:v1', client: '127.0.0.1' });
    expect(byAction('delete')).toMatchObject({ detail: 'tag' });
    expect(byAction('robot-create').detail).toBe('robot$ci: pull,push on team/**');
    expect(byAction('robot-rm').detail).toBe('robot$ci');
    expect(byAction('gc').detail).toMatch(/^\d+ manifests and \d+ blobs deleted, \d+ bytes freed/);
    for (const e of events) expect(e.time).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    // The file holds the same events in the same order (without the database's ids).
    const lines = await fileEvents(reg);
    expect(lines).toEqual(events.map(({ id: _id, ...rest }) => rest));

    // No secret anywhere: passwords, the robot's secret, Authorization values.
    const rows = await reg.storage.audit.store!.database.db.selectFrom('audit_events').selectAll().execute();
    const stored = [JSON.stringify(rows), await readFile(auditFile(reg), 'utf8')];
    for (const secret of [USERS.admin, USERS.reader, WRONG, robotSecret, ADMIN.slice(6), asRobot.slice(6), 'Basic ']) {
      for (const text of stored) expect(text).not.toContain(secret);
    }
  });

  it("records the web UI's sign-in (/api/v1/session) and its failures, and a failed robot login", async () => {
    expectAnswer(await reg.request.get('/api/v1/session'), 200);
    expectAnswer(await reg.request.get('/api/v1/session').set('Authorization', READER).set('X-Stowage-UI', '1'), 200);
    expectError(await reg.request.get('/api/v1/session').set('Authorization', basic('reader', WRONG)).set('X-Stowage-UI', '1'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/v2/').set('Authorization', basic('robot$ghost', WRONG)), 401, 'UNAUTHORIZED');
    const events = (await allEvents(reg)).reverse();
    expect(events.map((e) => [e.action, e.user, e.userKind, e.result, e.status])).toEqual([
      ['login', 'reader', 'user', 'ok', 200],
      ['login', 'reader', 'user', 'unauthorized', 401],
      ['login', 'robot$ghost', 'robot', 'unauthorized', 401],
    ]);
  });

  it('answers admins only, filtered and paged newest first', async () => {
    expectError(await reg.request.get('/admin/audit'), 401, 'UNAUTHORIZED');
    // A query string may hold a token: the refusal is recorded without it.
    expectError(await reg.request.get('/admin/audit?access_token=query-secret-31f9').set('Authorization', READER), 403, 'DENIED');
    for (let i = 0; i < 3; i++) await tryPushImage(reg, `team/app${i}`, 'v1', { authorization: ADMIN, seed: 10 + i });
    expect((await tryPushImage(reg, 'team/app0', 'v2', { authorization: READER, seed: 20 })).statuses[0]).toBe(403);
    const all = await allEvents(reg);
    const ids = all.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    // The reader's refusals (the GET of /admin/audit too), the admin's pushes.
    const readers = await allEvents(reg, '&user=reader');
    expect(readers.map((e) => e.action)).toEqual(['push', 'push', 'push', 'request']);
    expect(readers[3].detail).toBe('GET /admin/audit: DENIED: reading the audit log needs a user listed in stowage.auth.admins');
    expect(JSON.stringify(await reg.storage.audit.store!.database.db.selectFrom('audit_events').selectAll().execute())).not.toContain('query-secret');
    expect(await readFile(auditFile(reg), 'utf8')).not.toContain('query-secret');
    expect((await allEvents(reg, '&action=push&user=admin')).map((e) => e.repository)).toEqual(['team/app2', 'team/app1', 'team/app0']);
    expect((await allEvents(reg, '&repository=team/app0')).map((e) => [e.user, e.result])).toEqual([
      ['reader', 'denied'],
      ['reader', 'denied'],
      ['reader', 'denied'],
      ['admin', 'ok'],
    ]);
    expect(await allEvents(reg, '&since=1h')).toHaveLength(all.length);
    expect(await allEvents(reg, `&since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect(await allEvents(reg, '&until=1h')).toEqual([]);
    expectError(await reg.request.get('/admin/audit?since=yesterday').set('Authorization', ADMIN), 400, 'UNSUPPORTED');
    expectError(await reg.request.get('/admin/audit?cursor=nope!').set('Authorization', ADMIN), 400, 'UNSUPPORTED');

    // Pages of 2 following the Link header: every event once, in order; the filter kept.
    const paged: Event[] = [];
    let url: string | undefined = '/admin/audit?n=2&since=1h';
    while (url) {
      const res = await reg.request.get(url).set('Authorization', ADMIN);
      expectAnswer(res, 200);
      paged.push(...(res.body.events as Event[]));
      const link = res.headers.link as string | undefined;
      url = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : undefined;
      expect(res.body.next).toBe(url ?? null);
      if (url) expect(url).toMatch(/since=\d{4}-/);
    }
    // The pages' own GETs are successes by an admin: not recorded.
    expect(paged.map((e) => e.id)).toEqual(ids);
  });
});

describe.each(DATABASE_KINDS)('the audit log with the token issuer on $name', (kind) => {
  const REALM = 'https://registry.example.test/token';
  const SERVICE = 'stowage-test';
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

  it('records logins at /token (Basic and the password form), token subjects as actors, and refused tokens', async () => {
    const res = await reg.request.get(`/token?service=${SERVICE}&scope=repository:team/app:pull,push`).set('Authorization', ADMIN);
    expect(res.status).toBe(200);
    const token = `Bearer ${res.body.token as string}`;
    const form = await reg.request
      .post('/token')
      .type('form')
      .send({ grant_type: 'password', username: 'reader', password: WRONG, service: SERVICE });
    expect(form.status).toBe(401);
    // An anonymous token is no login; the anonymous probe of /v2/ is no refusal worth a row.
    expect((await reg.request.get(`/token?service=${SERVICE}`)).status).toBe(200);
    expectError(await reg.request.get('/v2/'), 401, 'UNAUTHORIZED');
    expect((await tryPushImage(reg, 'team/app', 'v1', { authorization: token, seed: 1 })).statuses).toEqual([201, 201, 201]);
    expectError(await reg.request.get('/v2/team/app/tags/list').set('Authorization', 'Bearer not-a-token'), 401, 'UNAUTHORIZED');

    const events = (await allEvents(reg, '', token)).reverse();
    expect(events.map((e) => [e.action, e.user ?? null, e.userKind, e.result, e.repository ?? null])).toEqual([
      ['login', 'admin', 'user', 'ok', null],
      ['login', 'reader', 'user', 'unauthorized', null],
      ['push', 'admin', 'token', 'ok', 'team/app'],
      ['pull', null, 'anonymous', 'unauthorized', 'team/app'],
    ]);
    const rows = JSON.stringify(await reg.storage.audit.store!.database.db.selectFrom('audit_events').selectAll().execute());
    for (const secret of [USERS.admin, WRONG, res.body.token as string, 'not-a-token']) expect(rows).not.toContain(secret);
  });
});

describe('the client address', () => {
  let reg: TestRegistry | undefined;
  afterEach(async () => {
    await reg?.cleanup();
    reg = undefined;
  });

  async function start(trustedproxies: string[]): Promise<TestRegistry> {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        http: { trustedproxies },
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: { auth: { admins: ['admin'], loginlimit: { attempts: 3, window: '1h', lockout: '1h' } } },
      }),
    });
    return reg;
  }

  async function lastClient(r: TestRegistry): Promise<unknown> {
    return (await allEventsOf(r))[0].client;
  }

  async function allEventsOf(r: TestRegistry): Promise<Event[]> {
    await r.storage.audit.flush();
    return (await r.storage.audit.store!.page({ limit: 100 })).events as unknown as Event[];
  }

  it('is the right-most address no trusted proxy added, when the request comes through one', async () => {
    const r = await start(['127.0.0.1', '10.0.0.0/8']);
    await r.request.get('/v2/').set('Authorization', ADMIN).set('X-Forwarded-For', '203.0.113.9, 198.51.100.7, 10.1.2.3');
    expect(await lastClient(r)).toBe('198.51.100.7');
    await r.request.get('/v2/').set('Authorization', ADMIN);
    expect(await lastClient(r)).toBe('127.0.0.1');
    // Garbage in the header is not believed past the last trusted hop.
    await r.request.get('/v2/').set('Authorization', ADMIN).set('X-Forwarded-For', 'evil, 10.9.9.9');
    expect(await lastClient(r)).toBe('10.9.9.9');
    // The login limiter counts the forwarded address: one client locked out, another not.
    for (let i = 0; i < 3; i++) {
      expectError(
        await r.request
          .get('/v2/')
          .set('Authorization', basic(`u${i}`, WRONG))
          .set('X-Forwarded-For', '198.51.100.1'),
        401,
        'UNAUTHORIZED',
      );
    }
    expectError(await r.request.get('/v2/').set('Authorization', basic('u9', WRONG)).set('X-Forwarded-For', '198.51.100.1'), 429, 'TOOMANYREQUESTS');
    expectError(await r.request.get('/v2/').set('Authorization', basic('u9', WRONG)).set('X-Forwarded-For', '198.51.100.2'), 401, 'UNAUTHORIZED');
    expect((await allEventsOf(r)).slice(0, 2).map((e) => [e.action, e.user, e.client, e.result, e.status])).toEqual([
      ['login', 'u9', '198.51.100.2', 'unauthorized', 401],
      ['login', 'u9', '198.51.100.1', 'denied', 429],
    ]);
  });

  it('ignores X-Forwarded-For from a client that is no trusted proxy, in the audit log and the login limiter', async () => {
    const r = await start(['10.0.0.1']);
    await r.request.get('/v2/').set('Authorization', ADMIN).set('X-Forwarded-For', '203.0.113.9');
    expect(await lastClient(r)).toBe('127.0.0.1');
    for (let i = 0; i < 3; i++) {
      expectError(
        await r.request
          .get('/v2/')
          .set('Authorization', basic(`u${i}`, WRONG))
          .set('X-Forwarded-For', `198.51.100.${i}`),
        401,
        'UNAUTHORIZED',
      );
    }
    // A new spoofed address does not escape the lockout of the real one.
    expectError(await r.request.get('/v2/').set('Authorization', basic('u9', WRONG)).set('X-Forwarded-For', '198.51.100.99'), 429, 'TOOMANYREQUESTS');
    expect(new Set((await allEventsOf(r)).map((e) => e.client))).toEqual(new Set(['127.0.0.1']));
  });
});
