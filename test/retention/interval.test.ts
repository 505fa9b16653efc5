// The server's retention timer (stowage.retention.interval, server/maintenance.ts): it runs the
// policies each interval, logging each deletion, until stopped; with deletes disabled or the
// registry read-only it is not scheduled, and says so.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configFrom } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { startMaintenance } from '../../server/maintenance.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import type { EventDraft } from '../../notifications/listen.js';
import type { Notifier } from '../../notifications/notifier.js';
import { DELETED_TAGS, KEPT_TAGS, RETENTION_CONFIG, seedRegistry } from './fixture.js';

const HOUR = 3_600_000;

function keptLog(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('the retention timer', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, { config: RETENTION_CONFIG });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await reg.cleanup();
  });

  const withInterval = (extra: object = {}) =>
    configFrom({
      ...extra,
      storage: { filesystem: { rootdirectory: reg.root }, ...((extra as { storage?: object }).storage ?? {}) },
      stowage: { ...RETENTION_CONFIG.stowage, retention: { ...RETENTION_CONFIG.stowage.retention, interval: '1h' } },
    });

  it('runs the policies every interval, logging each deletion, until stopped', async () => {
    await seedRegistry(reg);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { lines, logger } = keptLog();
    // Webhook events of the deletions, as a Notifier with endpoints would send them.
    const drafts: EventDraft[] = [];
    const notifier = { enabled: true, sinkFor: () => (draft: EventDraft) => drafts.push(draft) } as unknown as Notifier;
    const stop = startMaintenance(withInterval(), reg.storage, logger, notifier);
    try {
      await vi.advanceTimersByTimeAsync(HOUR - 1);
      expect(lines.filter((l) => l.msg === 'retention done')).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      await expect.poll(() => lines.filter((l) => l.msg === 'retention done').length, { timeout: 10_000 }).toBe(1);
      const deleted = lines.filter((l) => l.msg === 'retention deleted');
      expect(deleted.filter((l) => l.tag !== undefined).map((l) => l.tag)).toEqual(DELETED_TAGS);
      expect(deleted).toHaveLength(DELETED_TAGS.length + 5);
      expect(lines.find((l) => l.msg === 'retention done')).toMatchObject({ tagsDeleted: 2, manifestsDeleted: 5, skipped: 0 });
      expect(((await reg.request.get('/v2/team/app/tags/list')).body.tags as string[]).sort()).toEqual(KEPT_TAGS);
      expect(drafts.map((d) => d.action)).toEqual(Array(DELETED_TAGS.length + 5).fill('delete'));
      expect(drafts.flatMap((d) => (d.target.tag ? [d.target.tag] : []))).toEqual(DELETED_TAGS);
    } finally {
      stop();
    }
    await vi.advanceTimersByTimeAsync(3 * HOUR);
    expect(lines.filter((l) => l.msg === 'retention done')).toHaveLength(1);
  });

  it('is not scheduled when deletes are disabled or the registry is read-only, and says why', async () => {
    await seedRegistry(reg);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    for (const [storage, reason] of [
      [{ delete: { enabled: false } }, 'deletes are disabled (storage.delete.enabled)'],
      [{ maintenance: { readonly: { enabled: true } } }, 'the registry is in read-only mode (storage.maintenance.readonly)'],
    ] as const) {
      const { lines, logger } = keptLog();
      const stop = startMaintenance(withInterval({ storage }), reg.storage, logger);
      await vi.advanceTimersByTimeAsync(2 * HOUR);
      stop();
      expect(lines.filter((l) => String(l.msg).startsWith('retention'))).toEqual([]);
      expect(lines.find((l) => String(l.msg).startsWith('stowage.retention.interval'))).toMatchObject({ reason });
    }
    expect((await reg.request.get('/v2/team/app/tags/list')).body.tags).toHaveLength(DELETED_TAGS.length + KEPT_TAGS.length);
  });
});
