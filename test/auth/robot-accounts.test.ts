// Robot accounts' rules without HTTP: what names, actions, globs and lifetimes are accepted, what
// a robot's grants allow (its own grants, whatever the access rules say), and how long a removal
// made elsewhere (another process, another replica) takes to be seen: CACHE_MS, on a test clock.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessRules } from '../../auth/access-rules.js';
import type { Htpasswd } from '../../auth/htpasswd.js';
import { LoginLimiter } from '../../auth/login-limiter.js';
import { PasswordLogin } from '../../auth/password-login.js';
import {
  CACHE_MS,
  RobotAccounts,
  RobotInputError,
  compileRobotGrants,
  parseRobotActions,
  parseRobotExpiry,
  parseRobotName,
  parseRobotRepositories,
} from '../../auth/robot-accounts.js';
import { RobotExistsError, RobotStore } from '../../storage/metadata/robots.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';

describe('robot input', () => {
  it('accepts names of 1 to 64 lower-case letters, digits, - and _', () => {
    for (const name of ['a', 'ci', 'team-a_ci2', 'x'.repeat(64)]) expect(parseRobotName(name)).toBe(name);
    for (const name of ['', 'CI', 'a b', 'a/b', 'a$b', 'x'.repeat(65), '../x', 'ci\n']) {
      expect(() => parseRobotName(name), name).toThrow(RobotInputError);
    }
  });

  it('accepts pull, push and delete, each once, and nothing else', () => {
    expect(parseRobotActions('push,pull')).toEqual(['pull', 'push']);
    expect(parseRobotActions(['delete', 'pull', 'pull'])).toEqual(['pull', 'delete']);
    for (const actions of ['', 'pull,fly', '*', ['admin']]) expect(() => parseRobotActions(actions)).toThrow(RobotInputError);
  });

  it('accepts repository globs and refuses what is no glob over names', () => {
    expect(parseRobotRepositories(['team/**', 'app', 'a/*/b', 'app'])).toEqual(['team/**', 'app', 'a/*/b']);
    for (const glob of ['', 'Team/app', '../x', 'a//b', '/a', 'a b', 'a/./b', 'x'.repeat(256)]) {
      expect(() => parseRobotRepositories([glob]), glob).toThrow(RobotInputError);
    }
    expect(() => parseRobotRepositories([])).toThrow(RobotInputError);
  });

  it('reads lifetimes in minutes, hours, days and weeks', () => {
    expect(parseRobotExpiry('90d')).toBe(90 * 86_400_000);
    expect(parseRobotExpiry('1d12h')).toBe(36 * 3_600_000);
    expect(parseRobotExpiry('2w')).toBe(14 * 86_400_000);
    expect(parseRobotExpiry('30m')).toBe(1_800_000);
    for (const value of ['', '9y', '90', 'd', '-1d', '0m', '1.5d', '30s']) expect(() => parseRobotExpiry(value), value).toThrow(RobotInputError);
  });
});

describe('robot grants', () => {
  const robot = { user: 'robot$ci', groups: [], robot: compileRobotGrants(['team/**', 'tools/*'], ['pull', 'push']) };

  it('allow exactly its actions on the repositories its globs match', () => {
    const rules = new AccessRules(undefined);
    expect([...rules.allowed(robot, 'team/app')]).toEqual(['pull', 'push']);
    expect([...rules.allowed(robot, 'team')]).toEqual(['pull', 'push']);
    expect([...rules.allowed(robot, 'tools/x')]).toEqual(['pull', 'push']);
    expect([...rules.allowed(robot, 'tools/x/y')]).toEqual([]);
    expect([...rules.allowed(robot, 'teams/app')]).toEqual([]);
    expect(rules.allows(robot, 'team/app', 'delete')).toBe(false);
    expect(rules.grantsAnything(robot)).toBe(true);
  });

  it('are all a robot gets: access rules neither add to them nor take from them', () => {
    const rules = new AccessRules([
      { repositories: ['**'], authenticated: true, actions: ['pull', 'push', 'delete'] },
      { repositories: ['**'], anonymous: true, actions: ['pull'] },
    ]);
    expect(rules.allows(robot, 'other/app', 'pull')).toBe(false);
    expect(rules.allows(robot, 'team/app', 'delete')).toBe(false);
    const stingy = new AccessRules([{ repositories: ['nothing'], users: ['alice'], actions: ['pull'] }]);
    expect([...stingy.allowed(robot, 'team/app')]).toEqual(['pull', 'push']);
  });
});

describe('robot logins and the login limiter', () => {
  const logger = { info: () => {}, warn: () => {} };
  const limits = { attempts: 3, windowMs: 60_000, lockoutMs: 60_000, concurrent: 2 };

  /** Robots whose lookups all wait for release(), as a slow database would. */
  function slowRobots() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const robots = {
      authenticate: async (login: string, secret: string) => {
        await gate;
        return secret === 'right' ? { user: login, groups: [] } : undefined;
      },
    } as unknown as RobotAccounts;
    return { robots, release };
  }

  it('lets one robot log in many times at once (docker pushes layers in parallel)', async () => {
    const { robots, release } = slowRobots();
    // The htpasswd users are never asked for a robot$ login.
    const login = new PasswordLogin(undefined as unknown as Htpasswd, new LoginLimiter(limits), new AccessRules(undefined), logger, robots);
    const logins = Array.from({ length: 6 }, () => login.login('robot$ci', 'right', '10.0.0.1', 'Basic'));
    release();
    expect((await Promise.all(logins)).map((who) => who.user)).toEqual(Array(6).fill('robot$ci'));
  });

  it('counts wrong secrets and locks the robot out after the allowed attempts', async () => {
    const { robots, release } = slowRobots();
    release();
    const login = new PasswordLogin(undefined as unknown as Htpasswd, new LoginLimiter(limits), new AccessRules(undefined), logger, robots);
    for (let i = 0; i < 3; i++) await expect(login.login('robot$ci', 'wrong', '10.0.0.1', 'Basic')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(login.login('robot$ci', 'right', '10.0.0.2', 'Basic')).rejects.toMatchObject({ code: 'TOOMANYREQUESTS' });
  });
});

describe.each(DATABASE_KINDS)('robot accounts on $name', (kind) => {
  let store: RobotStore;
  let drop: () => Promise<void>;
  let now = 1_800_000_000_000;
  const clock = () => now;

  beforeEach(async () => {
    const opened = await openTestDatabase(kind);
    store = new RobotStore(opened.database);
    drop = opened.drop;
  });
  afterEach(() => drop());

  it('keeps only the hash of a secret that logs the robot in, and refuses a name taken', async () => {
    const robots = new RobotAccounts(store, { now: clock });
    const { robot, secret } = await robots.create({ name: 'ci', repositories: ['team/**'], actions: 'pull,push', expires: '1d' });
    expect(robot).toMatchObject({ login: 'robot$ci', actions: ['pull', 'push'], expiresAt: new Date(now + 86_400_000).toISOString() });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await store.database.db.selectFrom('robots').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0].secret_hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect((await robots.authenticate('robot$ci', secret))?.user).toBe('robot$ci');
    expect(await robots.authenticate('robot$ci', `${secret}x`)).toBeUndefined();
    expect(await robots.authenticate('robot$other', secret)).toBeUndefined();
    await expect(robots.create({ name: 'ci', repositories: ['x'], actions: 'pull' })).rejects.toThrow(RobotExistsError);
  });

  it('refuses an expired robot at its expiry', async () => {
    const robots = new RobotAccounts(store, { now: clock });
    const { secret } = await robots.create({ name: 'short', repositories: ['a'], actions: ['pull'], expires: '30m' });
    now += 30 * 60_000 - 1;
    expect(await robots.authenticate('robot$short', secret)).toBeDefined();
    now += 1;
    expect(await robots.authenticate('robot$short', secret)).toBeUndefined();
    expect(await robots.identityForToken('robot$short', Math.floor(now / 1000) - 10)).toBeUndefined();
  });

  it('sees a removal made by another process within CACHE_MS, and at once when made through itself', async () => {
    const here = new RobotAccounts(store, { now: clock });
    const elsewhere = new RobotAccounts(new RobotStore(store.database), { now: clock });
    const { secret } = await here.create({ name: 'ci', repositories: ['a'], actions: ['pull'] });
    const issuedAt = Math.floor(now / 1000);
    expect(await here.identityForToken('robot$ci', issuedAt)).toBeDefined();
    expect(await elsewhere.remove('ci')).toBe(true);
    now += CACHE_MS - 1;
    expect(await here.authenticate('robot$ci', secret)).toBeDefined();
    now += 1;
    expect(await here.authenticate('robot$ci', secret)).toBeUndefined();
    expect(await here.identityForToken('robot$ci', issuedAt)).toBeUndefined();

    const again = await here.create({ name: 'ci', repositories: ['a'], actions: ['pull'] });
    // A token of the robot removed before is not one of the robot of that name made later.
    now += 5000;
    expect(await here.identityForToken('robot$ci', issuedAt)).toBeUndefined();
    expect(await here.identityForToken('robot$ci', Math.floor(now / 1000))).toBeDefined();
    expect(await here.remove('ci')).toBe(true);
    expect(await here.authenticate('robot$ci', again.secret)).toBeUndefined();
  });

  it('records the last use at most once a minute', async () => {
    const robots = new RobotAccounts(store, { now: clock });
    const { secret } = await robots.create({ name: 'ci', repositories: ['a'], actions: ['pull'] });
    const start = now;
    await robots.authenticate('robot$ci', secret);
    await expect.poll(async () => (await store.get('ci'))?.lastUsedAt).toBe(start);
    // Within the minute, a use is not written (awaited here, so nothing is left in flight).
    await store.touch('ci', start + 30_000);
    expect((await store.get('ci'))?.lastUsedAt).toBe(start);
    now += 61_000;
    await robots.authenticate('robot$ci', secret);
    await expect.poll(async () => (await store.get('ci'))?.lastUsedAt).toBe(start + 61_000);
    expect((await robots.list())[0].lastUsedAt).toBe(new Date(start + 61_000).toISOString());
  });
});
