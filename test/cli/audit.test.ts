// `stowage audit` through the real CLI (a child process): retag, robot create and rm, and gc run
// as commands are recorded as the host user (kind cli), read back newest first with filters, as
// JSON and as text, and written to stowage.audit.path; the robot's secret appears in neither.
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, bundleStowage, makeInstallation } from '../helpers/stowage-process.js';
import { pushImage } from '../helpers/images.js';
import { tempDir } from '../helpers/temp-dir.js';
import { loadConfig } from '../../server/config.js';
import { openStorage } from '../../server/open-storage.js';

describe('the stowage audit command', () => {
  beforeAll(() => bundleStowage(), 60_000);

  it('lists what commands did, as the host user, filtered, as JSON and text', async () => {
    const logDir = await tempDir('stowage-audit-log-');
    const file = path.join(logDir, 'audit.jsonl');
    const inst = await makeInstallation('stowage-audit-cli-', [`stowage: { audit: { path: "${file}", maxage: 30d } }`]);
    const run = (...args: string[]) => {
      const res = spawnSync(process.execPath, [BUNDLE, ...args, '--config', inst.config], {
        encoding: 'utf8',
        env: { ...process.env, SUDO_USER: '' },
      });
      return { status: res.status, stdout: res.stdout, stderr: res.stderr };
    };
    try {
      const storage = await openStorage(loadConfig(inst.config).config);
      const image = await pushImage(storage, 'team/app', 'v1', { seed: 1 });
      await storage.close();
      expect(run('retag', 'team/app:v1', 'team/copy:v2').status).toBe(0);
      // A retag that fails (no such source) is recorded too, before the command exits 1.
      expect(run('retag', 'team/app:nope', 'team/copy:v3').status).toBe(1);
      const created = run('robot', 'create', 'ci', '--repositories', 'team/**', '--actions', 'pull', '--json');
      expect(created.status, created.stderr).toBe(0);
      const secret = (JSON.parse(created.stdout) as { secret: string }).secret;
      expect(run('robot', 'rm', 'ci').status).toBe(0);
      expect(run('gc', '--grace', '0s').status).toBe(0);

      const listed = run('audit', '--json');
      expect(listed.status, listed.stderr).toBe(0);
      const events = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      const me = os.userInfo().username;
      expect(events.map((e) => [e.action, e.user, e.userKind])).toEqual([
        ['gc', me, 'cli'],
        ['robot-rm', me, 'cli'],
        ['robot-create', me, 'cli'],
        ['retag', me, 'cli'],
        ['retag', me, 'cli'],
      ]);
      expect(events[3]).toMatchObject({ result: 'error', reference: 'v3', detail: expect.stringContaining('MANIFEST_UNKNOWN') });
      expect(events[4]).toMatchObject({ repository: 'team/copy', reference: 'v2', digest: image.manifest.digest, detail: 'from team/app:v1' });

      const text = run('audit', '--action', 'retag', '--since', '1h');
      expect(text.status).toBe(0);
      expect(text.stdout.trim().split('\n')).toEqual([
        expect.stringMatching(/ {2}retag {2}error {2}team\/copy:v3 {2}MANIFEST_UNKNOWN: /),
        expect.stringMatching(new RegExp(`^\\d{4}-\\S+Z  ${me} \\(cli\\)  -  retag  ok  team/copy:v2@${image.manifest.digest}  from team/app:v1$`)),
      ]);
      expect(JSON.parse(run('audit', '--user', me, '--limit', '2', '--json').stdout)).toHaveLength(2);
      expect(JSON.parse(run('audit', '--repository', 'team/copy', '--json').stdout)).toHaveLength(2);
      expect(JSON.parse(run('audit', '--since', '2000-01-01', '--until', '2000-01-02', '--json').stdout)).toEqual([]);
      const bad = run('audit', '--since', 'yesterday');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('since must be a duration');

      // The file: the same events, oldest first.
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { action: string }).action)).toEqual(['retag', 'retag', 'robot-create', 'robot-rm', 'gc']);
      expect(lines.join('\n') + listed.stdout).not.toContain(secret);
    } finally {
      await rm(inst.dir, { recursive: true, force: true });
      await rm(logDir, { recursive: true, force: true });
    }
  }, 60_000);
});
