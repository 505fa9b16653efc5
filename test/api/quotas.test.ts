// Quotas over HTTP (stowage.quotas, storage/quotas.ts), on SQLite and PostgreSQL: a manifest PUT
// that would exceed a quota and an upload start into a full one answer 403 DENIED with the used
// and allowed bytes, leaving nothing behind; a mount and a push adding no new bytes pass; deleting
// gives the space back; GET /api/v1/quotas, /metrics and `stowage du` report the usage, and the
// API shows a caller only the quotas covering a repository it may pull.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { buildImage, pushBlob, pushManifest, tryPushImage, type Image } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';
import { putManifest } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { ApiClient } from '../../server/commands/api-client.js';
import { diskUsageCommand } from '../../server/commands/listings.js';

function blobBytes(image: Image): number {
  return image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
}

// The first fills its quota exactly; the second, smaller, fits once the first is deleted.
const first = buildImage({ seed: 1, layers: [randomBlob(3000, 1)] });
const second = buildImage({ seed: 2 });

describe.each(DATABASE_KINDS)('quotas over HTTP ($name)', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      database: kind.name,
      config: {
        storage: { delete: { enabled: true } },
        stowage: {
          quotas: [
            { repositories: ['team/**'], maxbytes: blobBytes(first) },
            { repositories: ['solo'], maxbytes: '1MiB' },
          ],
        },
      },
    });
  });
  afterEach(() => reg.cleanup());

  const quotas = async () => (await reg.request.get('/api/v1/quotas')).body.quotas as Array<Record<string, unknown>>;

  it('refuses the manifest that would exceed, then upload starts once full; a mount and a re-push pass; a delete gives space back', async () => {
    // Staged while the quota had room: the upload starts pass.
    for (const blob of [second.config, ...second.layers]) await pushBlob(reg, 'team/b', blob);
    for (const blob of [first.config, ...first.layers]) await pushBlob(reg, 'team/a', blob);
    await pushManifest(reg, 'team/a', 'v1', first.manifest);
    expect(await quotas()).toEqual([
      { number: 1, repositories: ['team/**'], usedBytes: blobBytes(first), maxBytes: blobBytes(first), percent: 100, repositoryCount: 2 },
      { number: 2, repositories: ['solo'], usedBytes: 0, maxBytes: 1048576, percent: 0, repositoryCount: 0 },
    ]);

    const refused = await putManifest(reg, 'team/b', 'v1', second.manifest.bytes, second.manifest.mediaType);
    expectError(refused, 403, 'DENIED');
    const [error] = refused.body.errors;
    expect(error.message).toContain(`${blobBytes(first)} of ${blobBytes(first)} bytes allowed are used`);
    expect(error.message).toContain('team/**');
    expect(error.detail).toEqual({
      repository: 'team/b',
      quota: { number: 1, repositories: ['team/**'] },
      usedBytes: blobBytes(first),
      allowedBytes: blobBytes(first),
      newBytes: blobBytes(second),
    });
    // Nothing linked, nothing counted.
    expect((await reg.request.get('/v2/team/b/tags/list')).body.tags ?? []).toEqual([]);
    expectError(await reg.request.get(`/v2/team/b/manifests/${second.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
    expect((await quotas())[0].usedBytes).toBe(blobBytes(first));

    // Full: an upload start is refused, by POST and by monolithic POST.
    const start = await reg.request.post('/v2/team/b/blobs/uploads/');
    expectError(start, 403, 'DENIED');
    expect(start.body.errors[0].detail).toMatchObject({ usedBytes: blobBytes(first), allowedBytes: blobBytes(first), newBytes: 0 });
    expectError(
      await reg.request
        .post(`/v2/team/c/blobs/uploads/?digest=${second.layers[0].digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(second.layers[0].bytes),
      403,
      'DENIED',
    );
    // Elsewhere uploads go on.
    expectAnswer(await reg.request.post('/v2/other/blobs/uploads/'), 202);

    // A mount is no upload; the manifest it serves adds no new bytes, and neither does a re-push.
    for (const blob of [first.config, ...first.layers]) {
      expectAnswer(await reg.request.post(`/v2/team/c/blobs/uploads/?mount=${blob.digest}&from=team/a`), 201);
    }
    await pushManifest(reg, 'team/c', 'v1', first.manifest);
    await pushManifest(reg, 'team/a', 'v1', first.manifest);
    expect((await quotas())[0].usedBytes).toBe(blobBytes(first));

    // Deleting both references gives the space back, and the refused push fits.
    for (const name of ['team/a', 'team/c']) expectAnswer(await reg.request.delete(`/v2/${name}/manifests/${first.manifest.digest}`), 202);
    expect((await quotas())[0].usedBytes).toBe(0);
    await pushManifest(reg, 'team/b', 'v1', second.manifest);
    expect((await quotas())[0].usedBytes).toBe(blobBytes(second));

    // /metrics and `stowage du` say the same.
    const metrics = (await reg.request.get('/metrics')).text;
    expect(metrics).toContain(`stowage_quota_used_bytes{quota="team/**"} ${blobBytes(second)}`);
    expect(metrics).toContain(`stowage_quota_limit_bytes{quota="team/**"} ${blobBytes(first)}`);
    expect(metrics).toContain('stowage_quota_used_bytes{quota="solo"} 0');
    const lines: string[] = [];
    await diskUsageCommand(new ApiClient({ url: reg.url }), undefined, false, (line) => lines.push(line));
    const section = lines.slice(lines.indexOf('') + 1);
    expect(section[0]).toMatch(/^QUOTA\s+USED\s+MAX\s+USE%\s+REPOSITORIES$/);
    expect(section[1]).toMatch(/^\s*1\s+\d+(\.\d)? KiB\s+\d+(\.\d)? KiB\s+\d+(\.\d)?%\s+team\/\*\*$/);
    expect(section[2]).toMatch(/^\s*2\s+0 B\s+1\.0 MiB\s+0%\s+solo$/);
    const json: string[] = [];
    await diskUsageCommand(new ApiClient({ url: reg.url }), undefined, true, (line) => json.push(line));
    expect(JSON.parse(json[0]).quotas).toEqual(await quotas());
  });
});

describe('GET /api/v1/quotas with auth', () => {
  const USERS = { admin: 'admin-pw-8d1e', reader: 'reader-pw-2f7a' };
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: {
          auth: {
            admins: ['admin'],
            access: [
              { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
              { repositories: ['team/**'], users: ['reader'], actions: ['pull'] },
            ],
          },
          quotas: [
            { repositories: ['team/**'], maxbytes: '1GiB' },
            { repositories: ['secret/**'], maxbytes: '1GiB' },
            { repositories: ['empty/**'], maxbytes: '1GiB' },
          ],
        },
      }),
    });
    for (const name of ['team/app', 'secret/app']) {
      const { statuses } = await tryPushImage(reg, name, 'v1', { authorization: basic('admin', USERS.admin), seed: 1 });
      expect(statuses.every((s) => s === 201)).toBe(true);
    }
  });
  afterEach(() => reg.cleanup());

  it('shows a user the quotas covering a repository it may pull, an admin all, and asks anonymous callers to log in', async () => {
    const as = async (user: keyof typeof USERS) =>
      (await reg.request.get('/api/v1/quotas').set('Authorization', basic(user, USERS[user]))).body.quotas.map(
        (q: { repositories: string[] }) => q.repositories[0],
      );
    expect(await as('admin')).toEqual(['team/**', 'secret/**', 'empty/**']);
    expect(await as('reader')).toEqual(['team/**']);
    expectError(await reg.request.get('/api/v1/quotas'), 401, 'UNAUTHORIZED');
  });
});
