// The retention admin API (server/routes/admin-retention.ts): GET /admin/retention/plan and POST
// /admin/retention/run answer only users of stowage.auth.admins (401 anonymous, 403 anyone else or
// without auth), ?now= evaluates as if at another time, and the run deletes what the plan listed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { DELETED_TAGS, KEPT_TAGS, RETENTION_CONFIG, blobStored, deletedManifests, freedBlobs, seedRegistry } from '../retention/fixture.js';
import type { RetentionReport } from '../../storage/retention/run.js';

const USERS = { admin: 'admin-pw-5c1d', reader: 'reader-pw-77b0' };
const ADMIN = basic('admin', USERS.admin);
const READER = basic('reader', USERS.reader);

describe('the retention admin API without auth', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, { config: RETENTION_CONFIG });
  });
  afterEach(() => reg.cleanup());

  it('refuses everyone, and deletes nothing', async () => {
    await seedRegistry(reg);
    expectError(await reg.request.get('/admin/retention/plan'), 403, 'DENIED');
    expectError(await reg.request.post('/admin/retention/run'), 403, 'DENIED');
    expect((await reg.request.get('/v2/team/app/tags/list')).body.tags).toHaveLength(DELETED_TAGS.length + KEPT_TAGS.length);
  });
});

describe.each(DATABASE_KINDS)('the retention admin API with htpasswd on $name', (kind) => {
  let reg: TestRegistry;
  const start = (retention: object | null = RETENTION_CONFIG.stowage.retention, extra: object = {}) =>
    startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      database: kind.name,
      config: (p) => ({
        ...extra,
        auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } },
        stowage: { ...RETENTION_CONFIG.stowage, retention: retention ?? undefined, auth: { admins: ['admin'] } },
      }),
    });
  afterEach(() => reg.cleanup());

  it('answers the plan and runs only for admins: 401 anonymous, 403 other users', async () => {
    reg = await start();
    const seeded = await seedRegistry(reg);
    expectError(await reg.request.get('/admin/retention/plan'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.post('/admin/retention/run'), 401, 'UNAUTHORIZED');
    expectError(await reg.request.get('/admin/retention/plan').set('Authorization', READER), 403, 'DENIED');
    expectError(await reg.request.post('/admin/retention/run').set('Authorization', READER), 403, 'DENIED');
    expectError(await reg.request.get('/admin/retention/plan').set('Authorization', basic('admin', 'wrong')), 401, 'UNAUTHORIZED');

    const plan = await reg.request.get('/admin/retention/plan').set('Authorization', ADMIN);
    expectAnswer(plan, 200);
    const dry = plan.body as RetentionReport;
    expect(dry.dryRun).toBe(true);
    expect(dry.repositories[0].tagsDeleted.map((t) => t.tag).sort()).toEqual(DELETED_TAGS);
    for (const digest of freedBlobs(seeded)) expect(await blobStored(reg, digest)).toBe(true);

    const later = await reg.request.get('/admin/retention/plan?now=%2B1825d').set('Authorization', ADMIN);
    expect((later.body as RetentionReport).repositories[0].tagsDeleted.map((t) => t.tag)).toContain('old-but-pulled');
    expectError(await reg.request.get('/admin/retention/plan?now=soon').set('Authorization', ADMIN), 400, 'UNSUPPORTED');

    const run = await reg.request.post('/admin/retention/run').set('Authorization', ADMIN);
    expectAnswer(run, 200);
    const report = run.body as RetentionReport;
    expect(report.dryRun).toBe(false);
    expect(report.repositories).toEqual(dry.repositories);
    expect(report.gc).toMatchObject({ blobsDeleted: freedBlobs(seeded).length });
    const tags = await reg.request.get('/v2/team/app/tags/list').set('Authorization', ADMIN);
    expect((tags.body.tags as string[]).sort()).toEqual(KEPT_TAGS);

    // The audit log holds each deletion with the admin who ran it and the reason, and the collection.
    await reg.storage.audit.flush();
    const audit = await reg.storage.audit.store!.page({ limit: 1000 });
    const deletions = audit.events.filter((e) => e.action === 'retention-delete');
    expect(
      deletions
        .filter((e) => e.reference !== undefined)
        .map((e) => e.reference)
        .sort(),
    ).toEqual(DELETED_TAGS);
    expect(deletions.length).toBe(DELETED_TAGS.length + report.repositories[0].manifestsDeleted.length);
    for (const event of deletions) {
      expect(event).toMatchObject({ user: 'admin', userKind: 'user', repository: 'team/app', result: 'ok' });
      expect(event.detail).toBeTruthy();
    }
    expect(audit.events.find((e) => e.action === 'gc')).toMatchObject({ user: 'admin', userKind: 'user' });
  });

  it('answers 404 when the config has no stowage.retention, and 405 for a run in read-only mode', async () => {
    reg = await start(null);
    expectError(await reg.request.get('/admin/retention/plan').set('Authorization', ADMIN), 404, 'UNSUPPORTED');
    await reg.cleanup();
    reg = await start(RETENTION_CONFIG.stowage.retention, { storage: { maintenance: { readonly: { enabled: true } } } });
    expectError(await reg.request.post('/admin/retention/run').set('Authorization', ADMIN), 405, 'UNSUPPORTED');
    expectAnswer(await reg.request.get('/admin/retention/plan').set('Authorization', ADMIN), 200);
  });

  it('sends a webhook delete event for each deletion of a run, naming the admin', async () => {
    const events: Array<{ action: string; target: { tag?: string; digest?: string; repository: string }; actor: { name?: string } }> = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        events.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { events: typeof events }).events);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
      reg = await start(RETENTION_CONFIG.stowage.retention, {
        notifications: { endpoints: [{ name: 'listener', url, timeout: '500ms', backoff: '50ms' }] },
      });
      const seeded = await seedRegistry(reg);
      expectAnswer(await reg.request.post('/admin/retention/run').set('Authorization', ADMIN), 200);
      const deletes = () => events.filter((e) => e.action === 'delete' && e.target.repository === 'team/app');
      await expect.poll(() => deletes().length, { timeout: 10_000 }).toBe(DELETED_TAGS.length + deletedManifests(seeded).length);
      expect(
        deletes()
          .flatMap((e) => (e.target.tag ? [e.target.tag] : []))
          .sort(),
      ).toEqual(DELETED_TAGS);
      expect(
        deletes()
          .flatMap((e) => (e.target.tag ? [] : [e.target.digest]))
          .sort(),
      ).toEqual(deletedManifests(seeded));
      expect(new Set(deletes().map((e) => e.actor.name))).toEqual(new Set(['admin']));
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
