// A writable alias and the access rules: a request through `tools/x` reads or writes
// `secret/tools/x`, so the caller needs its actions on the target as well as on the alias, with
// Basic credentials and with tokens alike. Refused writes store nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { snapshot } from '../helpers/fs-snapshot.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const USERS = { admin: 'admin-pw-51e0', bob: 'bob-pw-a7d2' };
const ADMIN = basic('admin', USERS.admin);
const BOB = basic('bob', USERS.bob);

const ACCESS = [
  { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
  // bob owns the short names, but may only read what they point at.
  { repositories: ['tools/**'], users: ['bob'], actions: ['pull', 'push', 'delete'] },
  { repositories: ['secret/tools/**'], users: ['bob'], actions: ['pull'] },
];
const ALIASES = { 'tools/*': { target: 'secret/tools/*', writable: true } };
const TOKEN = { realm: 'https://registry.example.test/token', service: 'stowage-test', issuer: 'stowage-test-issuer' };

type Mode = 'htpasswd' | 'token';

describe.each<Mode>(['htpasswd', 'token'])('a writable alias with %s auth', (mode) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        ...(mode === 'htpasswd' ? { auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } } } : { auth: { token: TOKEN } }),
        stowage: {
          aliases: ALIASES,
          auth: { access: ACCESS, ...(mode === 'token' ? { issuer: { htpasswd: p.htpasswd } } : {}) },
        },
      }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  /** The Authorization header for user's request needing scope: Basic as is, or a token for it. */
  async function authFor(credentials: string, scope: string): Promise<string> {
    if (mode === 'htpasswd') return credentials;
    const res = await reg.request.get(`/token?service=${TOKEN.service}&scope=${encodeURIComponent(scope)}`).set('Authorization', credentials);
    expect(res.status, res.text).toBe(200);
    return `Bearer ${(JSON.parse(res.text) as { token: string }).token}`;
  }

  it('refuses a push and a delete through the alias when the target only allows pull, storing nothing', async () => {
    const admin = await authFor(ADMIN, 'repository:secret/tools/x:pull,push');
    const original = await tryPushImage(reg, 'secret/tools/x', 'v1', { authorization: admin, seed: 1 });
    expect(original.statuses).toEqual([201, 201, 201]);
    const bob = await authFor(BOB, 'repository:tools/x:pull,push,delete');
    // bob reads through the alias: he may pull the target.
    expectAnswer(await reg.request.get('/v2/tools/x/manifests/v1').set('Authorization', bob).set('Accept', original.manifest.mediaType), 200);

    const before = await snapshot(reg.paths.root);
    const push = await tryPushImage(reg, 'tools/x', 'v1', { authorization: bob, seed: 2 });
    expect(push.statuses).toEqual([403, 403, 403]);
    const remove = await reg.request.delete(`/v2/tools/x/manifests/${original.manifest.digest}`).set('Authorization', bob);
    expectError(remove, 403, 'DENIED');
    expect(JSON.parse(remove.text).errors[0].detail).toEqual({ name: 'secret/tools/x', actions: ['delete'] });
    expectError(await reg.request.delete(`/v2/tools/x/blobs/${original.layer.digest}`).set('Authorization', bob), 403, 'DENIED');
    expect(await snapshot(reg.paths.root)).toEqual(before);

    const kept = await reg.request.get('/v2/secret/tools/x/manifests/v1').set('Authorization', admin).set('Accept', original.manifest.mediaType);
    expectAnswer(kept, 200);
    expect(kept.headers['docker-content-digest']).toBe(original.manifest.digest);
  });

  it('accepts writes through the alias from a caller who may write the target', async () => {
    const admin = await authFor(ADMIN, 'repository:tools/y:pull,push');
    const { manifest, statuses } = await tryPushImage(reg, 'tools/y', 'v1', { authorization: admin, seed: 3 });
    expect(statuses).toEqual([201, 201, 201]);
    const stored = await reg.request
      .head('/v2/secret/tools/y/manifests/v1')
      .set('Authorization', await authFor(ADMIN, 'repository:secret/tools/y:pull'));
    expectAnswer(stored, 200);
    expect(stored.headers['docker-content-digest']).toBe(manifest.digest);
  });
});
