// `stowage robot create|ls|rm`: the commands' output on SQLite and PostgreSQL, then the real CLI's
// exit statuses (0, 1 for a name taken or an unknown robot, 2 for invalid input) and its robots
// logging in to a registry that shares the database.
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { basic } from '../helpers/credentials.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { bundleStowage, kill, makeInstallation } from '../helpers/stowage-process.js';
import { writeHtpasswd } from '../helpers/credentials.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { robotCreateCommand, robotListCommand, robotRemoveCommand } from '../../server/commands/robots.js';

describe.each(DATABASE_KINDS)('stowage robot on $name', (kind) => {
  const registry = useTestRegistry(filesystemDriverFactory, { database: kind.name });

  function output() {
    const printed: string[] = [];
    const noted: string[] = [];
    return { printed, noted, out: { print: (l: string) => printed.push(l), note: (l: string) => noted.push(l) } };
  }

  it('creates a robot and prints its secret once, lists it without the secret, removes it', async () => {
    const { storage } = registry();
    const created = output();
    const request = { name: 'ci', repositories: ['team/**', 'app'], actions: 'push,pull', expires: '90d' };
    expect(await robotCreateCommand(storage, request, false, created.out)).toBe(0);
    expect(created.printed[0]).toMatch(/^created robot\$ci \(pull,push on team\/\*\* app, expires \d{4}-/);
    const secret = created.printed.at(-1)!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const listed = output();
    expect(await robotListCommand(storage, false, listed.out)).toBe(0);
    expect(listed.printed[0].split(/\s{2,}/)).toEqual(['NAME', 'REPOSITORIES', 'ACTIONS', 'CREATED', 'EXPIRES', 'LAST USED']);
    expect(listed.printed[1].split(/\s{2,}/)).toEqual(['ci', 'team/**,app', 'pull,push', expect.any(String), expect.any(String), 'never']);
    const json = output();
    await robotListCommand(storage, true, json.out);
    expect(JSON.parse(json.printed[0])).toEqual([expect.objectContaining({ name: 'ci', login: 'robot$ci', lastUsedAt: null })]);
    expect([...listed.printed, ...json.printed].join('\n')).not.toContain(secret);

    const again = output();
    expect(await robotCreateCommand(storage, { ...request, expires: undefined }, false, again.out)).toBe(1);
    expect(again.noted).toEqual(['stowage: robot ci exists already']);
    const bad = output();
    expect(await robotCreateCommand(storage, { ...request, name: 'CI' }, false, bad.out)).toBe(2);
    expect(bad.noted[0]).toMatch(/invalid robot name "CI"/);

    const removed = output();
    expect(await robotRemoveCommand(storage, 'ci', removed.out)).toBe(0);
    expect(await robotRemoveCommand(storage, 'ci', removed.out)).toBe(1);
    expect(removed.noted).toEqual(['stowage: no robot named "ci"']);
    expect(await storage.robots!.list()).toEqual([]);
  });
});

describe('the stowage robot command', () => {
  beforeAll(() => bundleStowage(), 60_000);

  it('exits 0, 1 and 2 as documented; a running registry on the same database lets its robot in until rm', async () => {
    const usersDir = await tempDir('stowage-robot-users-');
    const htpasswd = path.join(usersDir, 'htpasswd');
    await writeHtpasswd(htpasswd, { admin: 'admin-pw' });
    const inst = await makeInstallation('stowage-robot-cli-', [`auth: { htpasswd: { realm: stowage, path: "${htpasswd}" } }`]);
    const run = (...args: string[]) => inst.command('robot', ...args);
    let server: ChildProcess | undefined;
    try {
      const created = run('create', 'ci', '--repositories', 'team/**', '--actions', 'pull', '--expires', '1d', '--json');
      expect(created.status, created.stderr).toBe(0);
      const robot = JSON.parse(created.stdout) as { login: string; secret: string };
      expect(robot.login).toBe('robot$ci');
      for (const args of [
        ['create', 'Bad', '--repositories', 'a', '--actions', 'pull'],
        ['create', 'ok', '--repositories', 'a', '--actions', 'pull,fly'],
        ['create', 'ok', '--repositories', 'a/../b', '--actions', 'pull'],
        ['create', 'ok', '--repositories', 'a', '--actions', 'pull', '--expires', 'soon'],
      ]) {
        const res = run(...args);
        expect(res.status, args.join(' ')).toBe(2);
        expect(res.stderr).toMatch(/^stowage: invalid /);
      }
      expect(run('create', 'ci', '--repositories', 'a', '--actions', 'pull').status).toBe(1);
      const listed = run('ls', '--json');
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'ci', repositories: ['team/**'], actions: ['pull'] })]);

      server = inst.run(['serve']);
      const asRobot = { Authorization: basic(robot.login, robot.secret) };
      const status = () =>
        fetch(`${inst.url}/v2/`, { headers: asRobot }).then(
          (r) => r.status,
          () => 0,
        );
      await expect.poll(status, { timeout: 20_000, interval: 100 }).toBe(200);
      expect(run('rm', 'ci').status).toBe(0);
      // Seen by the server within its cache bound (CACHE_MS, 2 s).
      await expect.poll(status, { timeout: 5000, interval: 100 }).toBe(401);
      expect(run('rm', 'ci').status).toBe(1);
    } finally {
      if (server) await kill(server);
      await inst.remove();
      await rm(usersDir, { recursive: true, force: true });
    }
  }, 60_000);
});
