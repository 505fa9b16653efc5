// Maintenance on every driver: read-only mode refuses writes and serves reads, stale upload
// sessions are purged while recent ones stay, and scrub finds a blob whose bytes changed.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { pushBlob, pushImage } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';
import { purgeUploads } from '../../storage/jobs/upload-purge.js';
import { scrubBlobs } from '../../storage/jobs/scrub.js';
import { blobDataKey, blobDirKey } from '../../storage/layout.js';

describe.each(DRIVERS)('maintenance on $name', (factory) => {
  describe('read-only mode', () => {
    const registry = useTestRegistry(factory, { config: { storage: { maintenance: { readonly: { enabled: true } } } } });

    it('refuses pushes and deletes with UNSUPPORTED and still serves reads', async () => {
      const reg = registry();
      const blob = randomBlob(512, 71);
      const push = await reg.request
        .post(`/v2/team/app/blobs/uploads/?digest=${blob.digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(blob.bytes);
      expect(push.status).toBe(405);
      expect(push.body.errors[0].code).toBe('UNSUPPORTED');
      expect((await reg.request.delete(`/v2/team/app/blobs/${blob.digest}`)).status).toBe(405);
      expect((await reg.request.get('/v2/')).status).toBe(200);
      expect((await reg.request.get('/v2/_catalog')).body).toEqual({ repositories: [] });
    });
  });

  describe('upload purging and scrub', () => {
    const registry = useTestRegistry(factory);

    it('purges upload sessions older than the limit and keeps recent ones', async () => {
      const reg = registry();
      const old = await reg.storage.uploads.start('team/app');
      const report = await purgeUploads(reg.storage, { olderThanMs: 60_000, now: new Date(Date.now() + 120_000) });
      expect(report.purged).toEqual([`team/app/${old.id}`]);
      await expect(reg.storage.uploads.status('team/app', old.id)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
      const recent = await reg.storage.uploads.start('team/app');
      const second = await purgeUploads(reg.storage, { olderThanMs: 60_000 });
      expect(second).toEqual({ purged: [], kept: 1 });
      expect((await reg.storage.uploads.status('team/app', recent.id)).size).toBe(0);
      const dry = await purgeUploads(reg.storage, { olderThanMs: 0, dryRun: true, now: new Date(Date.now() + 1000) });
      expect(dry.purged).toEqual([`team/app/${recent.id}`]);
      expect((await reg.storage.uploads.status('team/app', recent.id)).size).toBe(0);
    });

    it('scrub reports a blob whose stored bytes no longer hash to its digest', async () => {
      const reg = registry();
      const image = await pushImage(reg, 'team/app', 'v1', { seed: 72 });
      const victim = randomBlob(1000, 73);
      await pushBlob(reg, 'team/app', victim);
      const clean = await scrubBlobs(reg.storage);
      expect(clean.corrupt).toEqual([]);
      expect(clean.checked).toBe(4); // config, layer, manifest, victim
      await reg.storage.driver.putContent(blobDataKey(victim.digest), Buffer.from('bit rot'));
      const report = await scrubBlobs(reg.storage);
      expect(report.corrupt.map((c) => c.digest)).toEqual([victim.digest]);
      expect(image.manifest.digest).not.toBe(victim.digest);
    });

    it('scrub skips and reports a blob directory holding only what a killed write left', async () => {
      const reg = registry();
      await pushImage(reg, 'team/app', 'v1', { seed: 74 });
      // What a process killed mid-write by an older version leaves: a temporary file, no data.
      const never = randomBlob(100, 75);
      const leftover = `${blobDirKey(never.digest)}/data.tmp-0123456789ab`;
      await reg.storage.driver.putContent(leftover, never.bytes.subarray(0, 10));
      const report = await scrubBlobs(reg.storage);
      expect(report).toMatchObject({ checked: 3, corrupt: [], leftovers: [leftover] });
    });
  });
});
