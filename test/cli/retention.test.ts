// `stowage retention run` through the real CLI, in a child process, on a registry's storage and
// SQLite database: the dry run's table and JSON, the run, --now, and the exit statuses (0; 2
// without stowage.retention; 1 for a --now that is no time).
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { BUNDLE, bundleStowage } from '../helpers/stowage-process.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { DELETED_TAGS, KEPT_TAGS, RETENTION_CONFIG, blobStored, deletedManifests, freedBlobs, seedRegistry } from '../retention/fixture.js';
import type { RetentionReport } from '../../storage/retention/run.js';

describe('the stowage retention command', () => {
  beforeAll(() => bundleStowage(), 60_000);
  const registry = useTestRegistry(filesystemDriverFactory, { database: 'sqlite', config: RETENTION_CONFIG });

  it('lists what a run would delete, then deletes exactly that and frees the blobs', async () => {
    const reg = registry();
    const seeded = await seedRegistry(reg);
    await reg.stop();
    const config = path.join(reg.paths.dir, 'cli.yml');
    const basics = [
      'log: { level: error }',
      `storage: { filesystem: { rootdirectory: "${reg.root}" } }`,
      `stowage: { database: { url: "${reg.databaseUrl}" }, gc: { grace: 0s }, immutable: ${JSON.stringify(RETENTION_CONFIG.stowage.immutable)},`,
    ];
    await writeFile(config, [...basics, `  retention: ${JSON.stringify(RETENTION_CONFIG.stowage.retention)} }`, ''].join('\n'));
    const run = (...args: string[]) => {
      const res = spawnSync(process.execPath, [BUNDLE, 'retention', 'run', ...args, '--config', config], { encoding: 'utf8' });
      return { status: res.status, stdout: res.stdout, stderr: res.stderr };
    };

    const table = run('--dry-run');
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['REPOSITORY', 'TAG', 'DIGEST', 'REASON']);
    expect(lines.slice(1, 3).map((l) => l.split(/\s{2,}/)[1])).toEqual(DELETED_TAGS);
    expect(lines[2].split(/\s{2,}/)).toEqual([
      'team/app',
      'v1',
      seeded.v1.manifest.digest,
      'policy 1: rule 1: not among the 2 most recently pushed; rule 2: not pulled within 720h',
    ]);
    expect(
      lines
        .slice(3, 8)
        .map((l) => l.split(/\s{2,}/)[2])
        .sort(),
    ).toEqual(deletedManifests(seeded));
    expect(lines[8]).toMatch(/^1 repositories covered \(evaluated at .+\): would delete 2 tags and 5 manifests, kept 5 tags$/);
    expect(lines).toHaveLength(9);

    const dry = JSON.parse(run('--dry-run', '--json').stdout) as RetentionReport;
    expect(dry.tagsDeleted).toBe(2);
    expect(dry.repositories[0].tagsKept.map((t) => t.tag).sort()).toEqual(KEPT_TAGS);
    // Evaluated as if at another time: five years on, the pull of old-but-pulled is long past.
    const later = JSON.parse(run('--dry-run', '--json', '--now', '+1825d').stdout) as RetentionReport;
    expect(new Date(later.evaluatedAt).getTime()).toBeGreaterThan(Date.now() + 1800 * 86_400_000);
    expect(later.repositories[0].tagsDeleted.map((t) => t.tag)).toContain('old-but-pulled');
    const at = JSON.parse(run('--dry-run', '--json', '--now', '2020-01-02T03:04:05Z').stdout) as RetentionReport;
    expect(at.evaluatedAt).toBe('2020-01-02T03:04:05.000Z');
    const bad = run('--dry-run', '--now', 'soon');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^stowage: UNSUPPORTED: now: "soon" is not a time/);
    for (const digest of freedBlobs(seeded)) expect(await blobStored(reg, digest)).toBe(true);

    const real = run('--json');
    expect(real.status, real.stderr).toBe(0);
    const report = JSON.parse(real.stdout) as RetentionReport;
    expect(report.repositories).toEqual(dry.repositories.map((r) => ({ ...r })));
    expect(report.gc).toMatchObject({ blobsDeleted: freedBlobs(seeded).length });
    for (const digest of freedBlobs(seeded)) expect(await blobStored(reg, digest)).toBe(false);
    await reg.restart();
    expect(((await reg.request.get('/v2/team/app/tags/list')).body.tags as string[]).sort()).toEqual(KEPT_TAGS);
    expect(run('--dry-run').stdout).toMatch(/would delete 0 tags and 0 manifests/);

    const without = path.join(reg.paths.dir, 'without.yml');
    await writeFile(without, [...basics.slice(0, 2), `stowage: { database: { url: "${reg.databaseUrl}" } }`, ''].join('\n'));
    const none = spawnSync(process.execPath, [BUNDLE, 'retention', 'run', '--config', without], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('stowage: the configuration has no stowage.retention policies\n');
  }, 60_000);
});
