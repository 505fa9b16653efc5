// The metadata API with auth on, on SQLite and PostgreSQL: the credentials /v2 takes, lists of
// only what the caller may pull (full pages however little that is), 401 with the challenge for
// anonymous callers and 403 DENIED for known ones, as /v2 answers; a Bearer token needs the
// catalog scope for the repositories list, as _catalog does; pushes name their pusher.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const USERS = { admin: 'admin-pw-8d1e', reader: 'reader-pw-2f7a', outsider: 'outsider-pw-6b3c' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);
const OUTSIDER = basic('outsider', USERS.outsider);

const names = (body: { repositories: Array<{ name: string }> }) => body.repositories.map((r) => r.name);

describe.each(DATABASE_KINDS)('the metadata API with htpasswd on $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      database: kind.name,
      users: USERS,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: {
          auth: {
            access: [
              { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
              { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
              { repositories: ['team/**'], users: ['reader'], actions: ['pull'] },
            ],
          },
        },
      }),
    });
    for (const name of ['public/app', 'secret/a', 'secret/b', 'secret/c', 'team/app', 'team/web']) {
      const { statuses } = await tryPushImage(reg, name, 'v1', { authorization: ADMIN, seed: name.length });
      expect(statuses.every((s) => s === 201)).toBe(true);
    }
  });
  afterEach(() => reg.cleanup());

  it('lists only what each caller may pull, in full pages', async () => {
    const as = (authorization?: string) => (path: string) => {
      const req = reg.request.get(path);
      return authorization ? req.set('Authorization', authorization) : req;
    };
    expect(names((await as(ADMIN)('/api/v1/repositories')).body)).toEqual(['public/app', 'secret/a', 'secret/b', 'secret/c', 'team/app', 'team/web']);
    const first = await as(READER)('/api/v1/repositories?n=2');
    expect(names(first.body)).toEqual(['public/app', 'team/app']);
    expect(first.body.next).toBe('/api/v1/repositories?n=2&last=team%2Fapp');
    const second = await as(READER)(first.body.next);
    expect(second.body).toMatchObject({ repositories: [{ name: 'team/web' }], next: null });
    expect(names((await as(OUTSIDER)('/api/v1/repositories')).body)).toEqual(['public/app']);
    expect(names((await as()('/api/v1/repositories')).body)).toEqual(['public/app']);
  });

  it('refuses a repository the caller may not pull: 401 with the challenge when anonymous, 403 when known', async () => {
    const anonymous = await reg.request.get('/api/v1/tags/team/app');
    expectError(anonymous, 401, 'UNAUTHORIZED');
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="stowage-test"');
    expectError(await reg.request.get('/api/v1/tags/secret/a').set('Authorization', READER), 403, 'DENIED');
    expectError(await reg.request.get('/api/v1/images/secret/a/v1').set('Authorization', READER), 403, 'DENIED');
    expectError(await reg.request.get('/api/v1/repositories/secret/a').set('Authorization', READER), 403, 'DENIED');
    expectError(await reg.request.get('/api/v1/repositories').set('Authorization', basic('reader', 'wrong')), 401, 'UNAUTHORIZED');
    expect((await reg.request.get('/api/v1/tags/public/app')).status).toBe(200);
  });

  it('names who pushed each tag', async () => {
    const res = await reg.request.get('/api/v1/tags/team/app').set('Authorization', READER);
    expect(res.status).toBe(200);
    expect(res.body.tags).toMatchObject([{ tag: 'v1', pushedBy: 'admin' }]);
    const image = await reg.request.get('/api/v1/images/team/app/v1').set('Authorization', READER);
    expect(image.body).toMatchObject({ pushedBy: 'admin', tag: { name: 'v1' } });
  });
});

describe('the metadata API with tokens', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { token: { realm: '/token', service: 'stowage-test', issuer: 'stowage-test-issuer' } },
        stowage: {
          auth: {
            issuer: { htpasswd: p.htpasswd, expiry: '2m' },
            access: [
              { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
              { repositories: ['team/**'], users: ['reader'], actions: ['pull'] },
            ],
          },
        },
      }),
    });
  });
  afterEach(() => reg.cleanup());

  async function token(authorization: string, scope: string): Promise<string> {
    const res = await reg.request.get(`/token?service=stowage-test&scope=${encodeURIComponent(scope)}`).set('Authorization', authorization);
    expect(res.status, res.text).toBe(200);
    return (res.body as { token: string }).token;
  }

  it('asks for the catalog scope to list repositories and a repository scope for its tags', async () => {
    const push = await token(ADMIN, 'repository:team/app:pull,push');
    const { statuses } = await tryPushImage(reg, 'team/app', 'v1', { authorization: `Bearer ${push}` });
    expect(statuses.every((s) => s === 201)).toBe(true);

    const challenged = await reg.request.get('/api/v1/repositories');
    expectError(challenged, 401, 'UNAUTHORIZED');
    expect(challenged.headers['www-authenticate']).toBe('Bearer realm="/token",service="stowage-test",scope="registry:catalog:*"');
    const catalog = await token(READER, 'registry:catalog:*');
    const listed = await reg.request.get('/api/v1/repositories').set('Authorization', `Bearer ${catalog}`);
    expect(names(listed.body)).toEqual(['team/app']);
    // The catalog token holds no pull of team/app: a new token, as /v2 asks.
    const tags = await reg.request.get('/api/v1/tags/team/app').set('Authorization', `Bearer ${catalog}`);
    expectError(tags, 401, 'UNAUTHORIZED');
    expect(tags.headers['www-authenticate']).toContain('scope="repository:team/app:pull"');
    const pull = await token(READER, 'repository:team/app:pull');
    expect((await reg.request.get('/api/v1/tags/team/app').set('Authorization', `Bearer ${pull}`)).body.tags).toMatchObject([
      { tag: 'v1', pushedBy: 'admin' },
    ]);
  });
});
