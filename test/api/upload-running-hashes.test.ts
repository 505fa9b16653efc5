// The running hashes of upload sessions are an in-memory shortcut, and clients start uploads they
// never finish: the hashes are bounded (a cap and a TTL), dropped when a session is cancelled or
// purged, and an upload whose hash was dropped still finishes with the right digest.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer } from '../helpers/expect-answer.js';
import { eventually, startUpload } from '../helpers/registry-client.js';
import { randomBlob } from '../helpers/content.js';
import { UploadStore } from '../../storage/uploads.js';
import { purgeUploads } from '../../storage/jobs/upload-purge.js';

describe.each(DRIVERS)('running hashes of uploads ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('are capped, and uploads whose hash was dropped still finish with the right digest', async () => {
    const { driver, blobs } = registry().storage;
    const uploads = new UploadStore(driver, blobs, { maxRunningHashes: 3 });
    const contents = Array.from({ length: 8 }, (_, i) => randomBlob(5_000 + i, 200 + i));
    const sessions = [];
    for (const blob of contents) {
      const session = await uploads.start('library/app');
      await uploads.append('library/app', session.id, Readable.from([blob.bytes.subarray(0, 1000)]));
      sessions.push(session);
      expect(uploads.runningHashes).toBeLessThanOrEqual(3);
    }
    expect(uploads.runningHashes).toBe(3);
    for (const [i, blob] of contents.entries()) {
      const done = await uploads.finish('library/app', sessions[i].id, blob.digest, Readable.from([blob.bytes.subarray(1000)]));
      expect(done).toEqual({ digest: blob.digest, size: blob.size });
    }
    expect(uploads.runningHashes).toBe(0);
  });

  it('expire when their upload receives nothing for the TTL', async () => {
    const { driver, blobs } = registry().storage;
    const uploads = new UploadStore(driver, blobs, { runningHashTtlMs: 1 });
    const blob = randomBlob(3000, 210);
    const session = await uploads.start('library/app');
    expect(uploads.runningHashes).toBe(1);
    // Waits for a condition, not a time: the entry is past a 1 ms TTL as soon as 1 ms has passed.
    const expired = await eventually(async () => {
      uploads.purgeStale();
      return uploads.runningHashes === 0;
    });
    expect(expired).toBe(true);
    await uploads.append('library/app', session.id, Readable.from([blob.bytes]));
    expect(await uploads.finish('library/app', session.id, blob.digest)).toEqual({ digest: blob.digest, size: blob.size });
  });

  it('are dropped when a session is cancelled or purged', async () => {
    const reg = registry();
    const started = [];
    for (let i = 0; i < 5; i++) started.push(await startUpload(reg, 'library/app'));
    expect(reg.storage.uploads.runningHashes).toBe(5);
    expectAnswer(await reg.request.delete(started[0]), 204);
    expect(reg.storage.uploads.runningHashes).toBe(4);
    const report = await purgeUploads(reg.storage, { olderThanMs: 60_000, now: new Date(Date.now() + 120_000) });
    expect(report.purged).toHaveLength(4);
    expect(reg.storage.uploads.runningHashes).toBe(0);
  });
});
