// The retention runner (storage/retention/run.ts) on the filesystem driver with SQLite and with
// PostgreSQL: a dry run lists exactly what a run deletes and why and changes nothing; a run
// deletes those tags, then the manifests, through the API's paths, reports each deletion to
// onDelete, and its garbage collection frees their blobs; every kept tag still pulls, and a
// repository no policy covers is untouched.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { pushManifest } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { runRetention, type RetentionDeletion } from '../../storage/retention/run.js';
import { retentionSettings } from '../../server/retention.js';
import {
  DELETED_TAGS,
  KEPT_TAGS,
  RETENTION_CONFIG,
  blobStored,
  deletedManifests,
  expectParentsFirst,
  expectPullable,
  freedBlobs,
  seedRegistry,
} from './fixture.js';

async function tagsOf(reg: TestRegistry, name: string): Promise<string[]> {
  const res = await reg.request.get(`/v2/${name}/tags/list`);
  expect(res.status).toBe(200);
  return (res.body.tags as string[]).sort();
}

describe.each(DATABASE_KINDS)('retention run on the filesystem with $name', (kind) => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, { database: kind.name, config: RETENTION_CONFIG });
  });
  afterEach(() => reg.cleanup());

  it('a dry run lists exactly what a run deletes, with reasons, and deletes nothing', async () => {
    const seeded = await seedRegistry(reg);
    const before = await tagsOf(reg, 'team/app');
    const report = await runRetention(reg.storage, { ...retentionSettings(reg.config)!, dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.repositories.map((r) => r.repository)).toEqual(['team/app']);
    const [plan] = report.repositories;
    expect(plan.tagsDeleted.map((t) => t.tag).sort()).toEqual(DELETED_TAGS);
    expect(plan.tagsKept.map((t) => t.tag).sort()).toEqual(KEPT_TAGS);
    expect(plan.tagsDeleted.find((t) => t.tag === 'v1')).toEqual({
      tag: 'v1',
      digest: seeded.v1.manifest.digest,
      reason: 'policy 1: rule 1: not among the 2 most recently pushed; rule 2: not pulled within 720h',
    });
    expect(plan.tagsKept.find((t) => t.tag === 'release-1')!.reason).toBe('immutable (stowage.immutable rule 1)');
    expect(plan.tagsKept.find((t) => t.tag === 'old-but-pulled')!.reason).toBe('policy 1 rule 2: pulled within 720h');
    expect(plan.manifestsDeleted.map((m) => m.digest).sort()).toEqual(deletedManifests(seeded));
    expectParentsFirst(
      seeded,
      plan.manifestsDeleted.map((m) => m.digest),
    );
    expect(report.gc).toBeUndefined();
    expect(await tagsOf(reg, 'team/app')).toEqual(before);
    for (const digest of freedBlobs(seeded)) expect(await blobStored(reg, digest)).toBe(true);
  });

  it('a run deletes those tags and manifests, tells onDelete of each, and garbage collection frees their blobs', async () => {
    const seeded = await seedRegistry(reg);
    const dry = await runRetention(reg.storage, { ...retentionSettings(reg.config)!, dryRun: true });
    const events: RetentionDeletion[] = [];
    const report = await runRetention(reg.storage, { ...retentionSettings(reg.config)!, onDelete: (e) => void events.push(e) });
    expect(report.repositories).toEqual(dry.repositories);
    expect(report.tagsDeleted).toBe(2);
    expect(report.manifestsDeleted).toBe(5);
    expect(report.skipped).toEqual([]);
    // Tags first, then manifests parents first: the report's order.
    const [plan] = report.repositories;
    expect(events).toEqual([
      ...plan.tagsDeleted.map((t) => ({ repository: 'team/app', ...t })),
      ...plan.manifestsDeleted.map((m) => ({ repository: 'team/app', digest: m.digest, reason: m.reason })),
    ]);
    expect(await tagsOf(reg, 'team/app')).toEqual(KEPT_TAGS);
    for (const digest of deletedManifests(seeded)) expect((await reg.request.head(`/v2/team/app/manifests/${digest}`)).status).toBe(404);
    expect(report.gc).toMatchObject({ blobsDeleted: freedBlobs(seeded).length });
    for (const digest of freedBlobs(seeded)) expect(await blobStored(reg, digest), digest).toBe(false);
    for (const [tag, image] of [
      ['v2', seeded.v2],
      ['v3', seeded.v3],
      ['latest', seeded.v3],
      ['old-but-pulled', seeded.pulled],
      ['release-1', seeded.release],
    ] as const) {
      await expectPullable(reg, 'team/app', tag, image);
    }
    // No policy covers other/app.
    await expectPullable(reg, 'other/app', 'v0', seeded.untouched);
    // The database agrees with storage: nothing left to delete.
    const again = await runRetention(reg.storage, { ...retentionSettings(reg.config)!, dryRun: true });
    expect(again.tagsDeleted + again.manifestsDeleted).toBe(0);
  });

  it('leaves alone a tag moved and a manifest tagged since they were planned, with what they reference', async () => {
    const seeded = await seedRegistry(reg);
    const report = await runRetention(reg.storage, {
      ...retentionSettings(reg.config)!,
      // Pushes made while the run goes on: after its first deletion (multi), v1 moves to v2's
      // image and v1's image gets another tag.
      onDelete: async ({ tag }) => {
        if (tag !== 'multi') return;
        await pushManifest(reg, 'team/app', 'v1', seeded.v2.manifest);
        await pushManifest(reg, 'team/app', 'again', seeded.v1.manifest);
      },
    });
    expect(report.skipped).toEqual([
      { repository: 'team/app', tag: 'v1', digest: seeded.v1.manifest.digest, reason: 'the tag was moved or deleted since it was planned' },
      { repository: 'team/app', digest: seeded.v1.manifest.digest, reason: 'the manifest was tagged since it was planned' },
      { repository: 'team/app', digest: seeded.signature.digest, reason: `${seeded.v1.manifest.digest}, which references it, was left alone` },
    ]);
    expect(report.tagsDeleted).toBe(1);
    expect(report.manifestsDeleted).toBe(3);
    await expectPullable(reg, 'team/app', 'v1', seeded.v2);
    await expectPullable(reg, 'team/app', 'again', seeded.v1);
    expect((await reg.request.head(`/v2/team/app/manifests/${seeded.signature.digest}`)).status).toBe(200);
  });
});
