// The htpasswd user file: bcrypt only, a check costs the same whether the user exists or not,
// changes to the file are picked up, and a bad file names the line without showing the hash.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Htpasswd, HtpasswdError, parseHtpasswd } from '../../auth/htpasswd.js';
import { LoginLimiter, type LoginLimits } from '../../auth/login-limiter.js';
import { RegistryError } from '../../errors/registry-error.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-htpasswd-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function fileWith(content: string): Promise<string> {
  const file = path.join(dir, 'htpasswd');
  await fsp.writeFile(file, content);
  return file;
}

describe('htpasswd files', () => {
  it('accepts $2y$, $2b$ and $2a$ hashes, comments and blank lines', () => {
    const hash = bcrypt.hashSync('pw', 4);
    const users = parseHtpasswd(`# users\n\nalice:${hash.replace('$2b$', '$2y$')}\nbob:${hash}\r\ncarol:${hash.replace('$2b$', '$2a$')}\n`);
    expect([...users.keys()]).toEqual(['alice', 'bob', 'carol']);
  });

  it('refuses other hash formats, naming the line and user but not the hash', () => {
    const secretHash = '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=';
    let error: unknown;
    try {
      parseHtpasswd(`alice:${bcrypt.hashSync('pw', 4)}\nbob:${secretHash}\n`, 'users');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HtpasswdError);
    expect((error as Error).message).toContain('users line 2');
    expect((error as Error).message).toContain('"bob"');
    expect((error as Error).message).not.toContain(secretHash);
  });

  it('refuses a line without a user', () => {
    expect(() => parseHtpasswd(':$2y$04$abc')).toThrow(/line 1/);
  });

  it('verifies the right password and refuses a wrong one or an unknown user', async () => {
    const users = await Htpasswd.open(await fileWith(`alice:${bcrypt.hashSync('right', 4)}\n`));
    expect(await users.verify('alice', 'right')).toBe(true);
    expect(await users.verify('alice', 'right')).toBe(true);
    expect(await users.verify('alice', 'wrong')).toBe(false);
    expect(await users.verify('alice', '')).toBe(false);
    expect(await users.verify('mallory', 'right')).toBe(false);
  });

  it('takes as long for an unknown user as for a wrong password (a bcrypt compare either way)', async () => {
    const users = await Htpasswd.open(await fileWith(`alice:${bcrypt.hashSync('right', 10)}\n`));
    const time = async (user: string, i: number) => {
      const started = process.hrtime.bigint();
      await users.verify(user, `wrong-${i}`);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
    const wrongPassword: number[] = [];
    const unknownUser: number[] = [];
    // Interleaved, so that load from other test files falls on both alike.
    for (let i = 0; i < 7; i++) {
      wrongPassword.push(await time('alice', i));
      unknownUser.push(await time('mallory', i));
    }
    // Skipping bcrypt for an unknown user would make it thousands of times faster, not 4.
    expect(median(unknownUser)).toBeGreaterThan(median(wrongPassword) / 4);
    expect(median(unknownUser)).toBeLessThan(median(wrongPassword) * 4);
  });

  it('checks a password off the event loop: other work goes on while a costly hash is compared', async () => {
    // A well-formed cost-14 hash (about a second of bcrypt) that no password matches; nothing is hashed here.
    const costly = `$2y$14$${'A'.repeat(53)}`;
    const users = await Htpasswd.open(await fileWith(`alice:${costly}\n`));
    let settled = false;
    const check = users.verify('alice', 'wrong').finally(() => (settled = true));
    // bcrypt on the main thread holds each turn of the event loop for 100 ms slices and is done
    // in about ten; on a worker thread these turns take a few milliseconds.
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(await check).toBe(false);
  });

  it('compares an unknown user against a hash as costly as the costliest user has', async () => {
    const compared: string[] = [];
    const recorder = { compare: async (_password: string, hash: string) => (compared.push(hash), false) };
    const file = await fileWith(`cheap:${bcrypt.hashSync('pw', 4)}\ndear:${bcrypt.hashSync('pw', 6)}\n`);
    const users = await Htpasswd.open(file, () => {}, recorder);
    expect(await users.verify('mallory', 'guess')).toBe(false);
    expect(await users.verify('cheap', 'guess')).toBe(false);
    const costOf = (hash: string) => Number(/^\$2[aby]?\$(\d\d)\$/.exec(hash)?.[1]);
    expect(compared.map(costOf)).toEqual([6, 4]);
  });

  it('checks identical credentials sent at once only once, and different ones each', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const compared: string[] = [];
    const real = { compare: async (password: string, hash: string) => (compared.push(password), await held, bcrypt.compareSync(password, hash)) };
    const users = await Htpasswd.open(await fileWith(`alice:${bcrypt.hashSync('right', 4)}\n`), () => {}, real);
    const reservations: string[] = [];
    const reserve = () => ({
      succeeded: () => reservations.push('ok'),
      failed: () => reservations.push('failed'),
      abandoned: () => reservations.push('abandoned'),
    });
    const checks = [users.verify('alice', 'right', reserve), users.verify('alice', 'right', reserve), users.verify('alice', 'wrong', reserve)];
    await vi.waitFor(() => expect(compared).toHaveLength(2));
    release();
    expect(await Promise.all(checks)).toEqual([true, true, false]);
    expect(compared.sort()).toEqual(['right', 'wrong']);
    expect(reservations.sort()).toEqual(['failed', 'ok']);
    // Verified credentials are remembered: no new check, nothing reserved.
    expect(await users.verify('alice', 'right', reserve)).toBe(true);
    expect(compared).toHaveLength(2);
  });

  it('picks up a changed file and forgets users removed from it', async () => {
    const file = await fileWith(`alice:${bcrypt.hashSync('one', 4)}\n`);
    const users = await Htpasswd.open(file);
    expect(await users.verify('alice', 'one')).toBe(true);
    await fsp.writeFile(file, `bob:${bcrypt.hashSync('two', 4)}\n`);
    await fsp.utimes(file, new Date(), new Date(Date.now() + 5000));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await users.verify('bob', 'two')).toBe(true);
    expect(await users.verify('alice', 'one')).toBe(false);
  });

  it('keeps the users it has when the file becomes unreadable', async () => {
    const file = await fileWith(`alice:${bcrypt.hashSync('one', 4)}\n`);
    const problems: string[] = [];
    const users = await Htpasswd.open(file, (err) => problems.push(err.message));
    await fsp.writeFile(file, 'alice:plaintext\n');
    await fsp.utimes(file, new Date(), new Date(Date.now() + 5000));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await users.verify('alice', 'one')).toBe(true);
    expect(problems.join('\n')).toMatch(/not bcrypt/);
    expect(problems.join('\n')).not.toContain('plaintext');
  });

  it('fails to open a missing file with a message naming it', async () => {
    await expect(Htpasswd.open(path.join(dir, 'missing'))).rejects.toThrow(/cannot read htpasswd file .*missing/);
  });
});

describe('the login limiter', () => {
  function limiterAt(limits: Partial<LoginLimits> = {}) {
    let now = 1_000_000;
    const limiter = new LoginLimiter({ attempts: 3, windowMs: 60_000, lockoutMs: 30_000, ...limits }, () => now);
    return { limiter, advance: (ms: number) => (now += ms) };
  }

  function refusal(fn: () => unknown): RegistryError | undefined {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err as RegistryError;
    }
  }

  /** One failed password check by user from client. */
  const fail = (limiter: LoginLimiter, client: string, user: string) => limiter.begin(client, user).failed();

  it('locks a client out after the allowed failures, with Retry-After, then lets it try again', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 3; i++) {
      expect(refusal(() => limiter.check('10.0.0.1', `user-${i}`))).toBeUndefined();
      fail(limiter, '10.0.0.1', `user-${i}`);
    }
    const err = refusal(() => limiter.check('10.0.0.1', 'someone-else'));
    expect(err?.code).toBe('TOOMANYREQUESTS');
    expect(err?.status).toBe(429);
    expect(err?.headers['Retry-After']).toBe('30');
    expect(refusal(() => limiter.begin('10.0.0.1', 'someone-else'))?.code).toBe('TOOMANYREQUESTS');
    advance(20_000);
    expect(refusal(() => limiter.check('10.0.0.1'))?.headers['Retry-After']).toBe('10');
    advance(10_001);
    expect(refusal(() => limiter.check('10.0.0.1'))).toBeUndefined();
  });

  it('does not lock out other clients, nor other users', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 3; i++) fail(limiter, '10.0.0.1', 'alice');
    expect(refusal(() => limiter.check('10.0.0.1'))?.code).toBe('TOOMANYREQUESTS');
    expect(refusal(() => limiter.check('10.0.0.2', 'bob'))).toBeUndefined();
    expect(refusal(() => limiter.begin('10.0.0.2', 'bob'))).toBeUndefined();
  });

  it('counts guesses sent at once as they arrive, before any is checked', () => {
    const { limiter } = limiterAt({ concurrent: 10 });
    const running = [0, 1, 2].map(() => limiter.begin('10.0.0.1', 'alice'));
    // Three checks in progress use up the three attempts: a fourth guess is not checked.
    const err = refusal(() => limiter.begin('10.0.0.1', 'alice'));
    expect(err?.code).toBe('TOOMANYREQUESTS');
    for (const attempt of running) attempt.failed();
    expect(refusal(() => limiter.check('10.0.0.1'))?.headers['Retry-After']).toBe('30');
  });

  it('runs at most `concurrent` checks at once for one address and for one user', () => {
    const { limiter } = limiterAt({ attempts: 100, concurrent: 2 });
    const a = limiter.begin('10.0.0.1', 'alice');
    limiter.begin('10.0.0.1', 'bob');
    expect(refusal(() => limiter.begin('10.0.0.1', 'carol'))?.headers['Retry-After']).toBe('1');
    limiter.begin('10.0.0.2', 'alice');
    expect(refusal(() => limiter.begin('10.0.0.3', 'alice'))?.code).toBe('TOOMANYREQUESTS');
    a.failed();
    expect(refusal(() => limiter.begin('10.0.0.1', 'carol'))).toBeUndefined();
  });

  it('locks out a user guessed at from many addresses, for every address', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 3; i++) fail(limiter, `10.0.0.${i}`, 'alice');
    expect(refusal(() => limiter.check('10.0.0.9', 'alice'))?.code).toBe('TOOMANYREQUESTS');
    expect(refusal(() => limiter.check('10.0.0.9', 'bob'))).toBeUndefined();
  });

  it("keeps an address's failures when another user logs in from it, and clears only the user's own", () => {
    const { limiter } = limiterAt({ attempts: 5 });
    for (let round = 0; round < 2; round++) {
      fail(limiter, '10.0.0.1', 'alice');
      fail(limiter, '10.0.0.1', 'alice');
      limiter.begin('10.0.0.1', 'bob').succeeded();
    }
    // Four failures from the address so far: the fifth locks it, whoever logged in between.
    expect(refusal(() => limiter.check('10.0.0.1'))).toBeUndefined();
    fail(limiter, '10.0.0.1', 'carol');
    expect(refusal(() => limiter.check('10.0.0.1', 'dave'))?.code).toBe('TOOMANYREQUESTS');
    // alice's own success clears alice's count, so she is not locked out by her earlier typos.
    const other = limiterAt({ attempts: 3 }).limiter;
    fail(other, '10.0.0.1', 'alice');
    fail(other, '10.0.0.2', 'alice');
    other.begin('10.0.0.3', 'alice').succeeded();
    fail(other, '10.0.0.4', 'alice');
    expect(refusal(() => other.check('10.0.0.5', 'alice'))).toBeUndefined();
  });

  it('gives back a check that never ran, and forgets failures older than the window', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 5; i++) limiter.begin('c', 'alice').abandoned();
    fail(limiter, 'c', 'alice');
    fail(limiter, 'c', 'alice');
    advance(61_000);
    fail(limiter, 'c', 'alice');
    fail(limiter, 'c', 'alice');
    expect(refusal(() => limiter.check('c', 'alice'))).toBeUndefined();
  });

  it('tracks a bounded number of clients', () => {
    const now = 0;
    const limiter = new LoginLimiter({ attempts: 1, windowMs: 60_000, lockoutMs: 60_000, maxClients: 100 }, () => now);
    for (let i = 0; i < 1000; i++) fail(limiter, `client-${i}`, `user-${i}`);
    // The oldest were forgotten, the newest are still locked out.
    expect(refusal(() => limiter.check('client-0', 'user-0'))).toBeUndefined();
    expect(refusal(() => limiter.check('client-999'))?.code).toBe('TOOMANYREQUESTS');
    expect(refusal(() => limiter.check('elsewhere', 'user-999'))?.code).toBe('TOOMANYREQUESTS');
  });
});
