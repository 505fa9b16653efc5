// POST /admin/retag: retag over HTTP, with the same link-only guarantee as `stowage retag`, and
// the permissions it needs when auth is on.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS, filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushImage, tryPushImage } from '../helpers/images.js';
import { registryUsage } from '../../storage/jobs/usage.js';
import { basic } from '../helpers/credentials.js';

describe.each(DRIVERS)('POST /admin/retag on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it('links the image under the new name and answers 201 without storing bytes', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/base/busybox', 'latest', { seed: 41 });
    const before = (await registryUsage(reg.storage)).storedBytes;
    const res = await reg.request.post('/admin/retag').send({ source: 'team/base/busybox:latest', destination: 'busybox' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ digest: image.manifest.digest, manifests: 1, blobs: 2, missing: [] });
    expect((await registryUsage(reg.storage)).storedBytes).toBe(before);
    const pulled = await reg.request.head('/v2/busybox/manifests/latest');
    expect(pulled.headers['docker-content-digest']).toBe(image.manifest.digest);
  });

  it('answers 400 for a body that is not the expected JSON and NAME_INVALID for a hostile name', async () => {
    const reg = registry();
    expect((await reg.request.post('/admin/retag').set('Content-Type', 'application/json').send('{nope')).status).toBe(400);
    expect((await reg.request.post('/admin/retag').send({ source: 1 })).status).toBe(400);
    const hostile = await reg.request.post('/admin/retag').send({ source: 'a:latest', destination: '../../etc' });
    expect(hostile.status).toBe(400);
    expect(hostile.body.errors[0].code).toBe('NAME_INVALID');
  });

  it('refuses to move a tag that points at another image unless force is true', async () => {
    const reg = registry();
    const a = await pushImage(reg, 'app', 'latest', { seed: 43 });
    const b = await pushImage(reg, 'app', 'next', { seed: 44 });
    const refused = await reg.request.post('/admin/retag').send({ source: 'app:next', destination: 'app:latest' });
    expect(refused.status).toBe(409);
    expect(refused.body.errors[0]).toMatchObject({
      code: 'DENIED',
      detail: { name: 'app', tag: 'latest', current: a.manifest.digest, digest: b.manifest.digest },
    });
    expect((await reg.request.head('/v2/app/manifests/latest')).headers['docker-content-digest']).toBe(a.manifest.digest);
    const badForce = await reg.request.post('/admin/retag').send({ source: 'app:next', destination: 'app:latest', force: 'yes' });
    expect(badForce.status).toBe(400);
    expect((await reg.request.head('/v2/app/manifests/latest')).headers['docker-content-digest']).toBe(a.manifest.digest);
    const forced = await reg.request.post('/admin/retag').send({ source: 'app:next', destination: 'app:latest', force: true });
    expect(forced.status).toBe(201);
    expect((await reg.request.head('/v2/app/manifests/latest')).headers['docker-content-digest']).toBe(b.manifest.digest);
    // The same image again is no move.
    expect((await reg.request.post('/admin/retag').send({ source: 'app:next', destination: 'app:latest' })).status).toBe(201);
  });

  it('answers MANIFEST_UNKNOWN for a missing source', async () => {
    const reg = registry();
    const res = await reg.request.post('/admin/retag').send({ source: 'nothing:here', destination: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('MANIFEST_UNKNOWN');
  });
});

describe('POST /admin/retag with auth', () => {
  const USERS = { admin: 'admin-pw-1', reader: 'reader-pw-2' };
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: {
          auth: {
            access: [
              { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
              { repositories: ['**'], users: ['reader'], actions: ['pull'] },
            ],
          },
        },
      }),
      logs: true,
    });
    await tryPushImage(reg, 'team/app', 'v1', { authorization: basic('admin', USERS.admin) });
  });
  afterEach(() => reg.cleanup());

  it('asks anonymous callers to log in, refuses a reader, and lets an admin retag', async () => {
    const body = { source: 'team/app:v1', destination: 'app' };
    expect((await reg.request.post('/admin/retag').send(body)).status).toBe(401);
    const reader = await reg.request.post('/admin/retag').set('Authorization', basic('reader', USERS.reader)).send(body);
    expect(reader.status).toBe(403);
    expect(reader.body.errors[0].code).toBe('DENIED');
    expect(await reg.storage.catalog.repositories()).toEqual(['team/app']);
    const admin = await reg.request.post('/admin/retag').set('Authorization', basic('admin', USERS.admin)).send(body);
    expect(admin.status).toBe(201);
  });
});
