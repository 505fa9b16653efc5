// The audit log's writer (storage/audit-log.ts) and rows (storage/metadata/audit-events.ts) on
// SQLite and PostgreSQL: events reach the database and the JSON lines file in the order recorded,
// in batches within flushMs; a failed write keeps its events ahead of later ones; long values are
// cut; the file is opened again after a rotation; rows past maxage are pruned; pages are newest first.
import { readFile, rename } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditEvent } from '../../storage/audit-log.js';
import { AuditStore } from '../../storage/metadata/audit-events.js';
import type { MetadataDatabase } from '../../storage/metadata/database.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';
import { tempDir } from '../helpers/temp-dir.js';

async function lines(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(file, 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.each(DATABASE_KINDS)('the audit log on $name', (kind) => {
  let database: MetadataDatabase;
  let drop: () => Promise<void>;
  let dir: string;
  beforeEach(async () => {
    ({ database, drop } = await openTestDatabase(kind));
    dir = await tempDir('stowage-audit-');
  });
  afterEach(() => drop());

  it('writes events in the order recorded to the database and the file, within flushMs, and the rest at close', async () => {
    const store = new AuditStore(database);
    const file = path.join(dir, 'audit.jsonl');
    const log = new AuditLog({ store, path: file, flushMs: 20 });
    for (let i = 0; i < 50; i++) log.record({ action: 'push', repository: `r${i}`, user: 'alice', userKind: 'user', client: '192.0.2.1' });
    // Written by the batch timer, without a flush asked for.
    await expect.poll(async () => (await store.page({ limit: 100 })).events.length).toBe(50);
    log.record({ action: 'gc', detail: 'last' });
    await log.close();
    const { events } = await store.page({ limit: 100 });
    expect(events.map((e) => e.repository ?? e.action).reverse()).toEqual([...Array.from({ length: 50 }, (_, i) => `r${i}`), 'gc']);
    expect(events[0]).toMatchObject({ action: 'gc', userKind: 'system', result: 'ok', detail: 'last' });
    expect(events[1]).toMatchObject({ user: 'alice', userKind: 'user', client: '192.0.2.1', result: 'ok' });
    const written = await lines(file);
    expect(written.map((e) => e.repository ?? e.action)).toEqual(events.map((e) => e.repository ?? e.action).reverse());
    expect(written[0]).toEqual({
      time: expect.stringMatching(/Z$/),
      user: 'alice',
      userKind: 'user',
      client: '192.0.2.1',
      action: 'push',
      repository: 'r0',
      result: 'ok',
    });
    // Closed: later events go nowhere.
    log.record({ action: 'late' });
    await log.flush();
    expect((await store.page({ limit: 100 })).events).toHaveLength(51);
  });

  it('pages newest first by id with each filter, and prunes rows past maxage', async () => {
    const store = new AuditStore(database);
    const now = 1_700_000_000_000;
    const day = 86_400_000;
    const log = new AuditLog({ store, now: () => now, maxAgeMs: 30 * day });
    const entries = [
      { time: now - 40 * day, action: 'push', user: 'old', repository: 'a' },
      { time: now - 2 * day, action: 'push', user: 'alice', repository: 'a' },
      { time: now - day, action: 'delete', user: 'alice', repository: 'b' },
      { time: now - 1000, action: 'login', user: 'bob', result: 'unauthorized' as const, status: 401 },
    ];
    for (const entry of entries) log.record(entry);
    await log.flush();
    const page = (filter: object) => store.page({ limit: 10, ...filter }).then((p) => p.events.map((e) => e.user));
    expect(await page({})).toEqual(['bob', 'alice', 'alice', 'old']);
    expect(await page({ user: 'alice' })).toEqual(['alice', 'alice']);
    expect(await page({ repository: 'a' })).toEqual(['alice', 'old']);
    expect(await page({ action: 'login' })).toEqual(['bob']);
    expect(await page({ since: now - 3 * day, until: now - day + 1 })).toEqual(['alice', 'alice']);
    const first = await store.page({ limit: 3 });
    expect(first.next).toBe(first.events[2].id);
    const second = await store.page({ limit: 3, before: first.next });
    expect(second.events.map((e) => e.user)).toEqual(['old']);
    expect(second.next).toBeUndefined();
    expect(await log.prune()).toBe(1);
    expect(await page({})).toEqual(['bob', 'alice', 'alice']);
    await log.close();
  });

  it('keeps the events of a failed write ahead of later ones, and cuts long values', async () => {
    const real = new AuditStore(database);
    let failures = 1;
    const batches: string[][] = [];
    const store = Object.assign(Object.create(real) as AuditStore, {
      async insert(events: AuditEvent[]) {
        batches.push(events.map((e) => e.action));
        if (failures-- > 0) throw new Error('database away');
        await real.insert(events);
      },
    });
    const problems: unknown[] = [];
    const log = new AuditLog({ store, onProblem: (p) => problems.push(p.error) });
    log.record({ action: 'first', detail: 'x'.repeat(1000), user: 'u'.repeat(500) });
    await log.flush();
    expect(problems).toHaveLength(1);
    log.record({ action: 'second' });
    await log.flush();
    expect(batches).toEqual([['first'], ['first', 'second']]);
    const { events } = await real.page({ limit: 10 });
    expect(events.map((e) => e.action)).toEqual(['second', 'first']);
    expect(events[1].detail).toHaveLength(300);
    expect(events[1].user).toHaveLength(100);
    await log.close();
  });

  it('opens the file again after a rotation (SIGHUP)', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const log = new AuditLog({ path: file });
    log.record({ action: 'before' });
    await log.flush();
    await rename(file, `${file}.1`);
    log.reopen();
    log.record({ action: 'after' });
    await log.close();
    expect((await lines(`${file}.1`)).map((e) => e.action)).toEqual(['before']);
    expect((await lines(file)).map((e) => e.action)).toEqual(['after']);
  });
});
