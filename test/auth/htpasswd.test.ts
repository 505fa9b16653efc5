// The htpasswd user file: bcrypt only, a check costs the same whether the user exists or not,
// changes to the file are picked up, and a bad file names the line without showing the hash.
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Htpasswd, HtpasswdError, parseHtpasswd } from '../../auth/htpasswd.js';
import { LoginLimiter } from '../../auth/login-limiter.js';
import { RegistryError } from '../../storage/errors.js';

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
  function limiterAt() {
    let now = 1_000_000;
    const limiter = new LoginLimiter({ attempts: 3, windowMs: 60_000, lockoutMs: 30_000 }, () => now);
    return { limiter, advance: (ms: number) => (now += ms) };
  }

  function refusal(fn: () => void): RegistryError | undefined {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err as RegistryError;
    }
  }

  it('locks a client out after the allowed failures, with Retry-After, then lets it try again', () => {
    const { limiter, advance } = limiterAt();
    for (let i = 0; i < 2; i++) {
      expect(refusal(() => limiter.check('10.0.0.1'))).toBeUndefined();
      limiter.failed('10.0.0.1');
    }
    limiter.failed('10.0.0.1');
    const err = refusal(() => limiter.check('10.0.0.1'));
    expect(err?.code).toBe('TOOMANYREQUESTS');
    expect(err?.status).toBe(429);
    expect(err?.headers['Retry-After']).toBe('30');
    advance(20_000);
    expect(refusal(() => limiter.check('10.0.0.1'))?.headers['Retry-After']).toBe('10');
    advance(10_001);
    expect(refusal(() => limiter.check('10.0.0.1'))).toBeUndefined();
  });

  it('does not lock out other clients', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 10; i++) limiter.failed('10.0.0.1');
    expect(refusal(() => limiter.check('10.0.0.1'))?.code).toBe('TOOMANYREQUESTS');
    expect(refusal(() => limiter.check('10.0.0.2'))).toBeUndefined();
  });

  it('forgets failures older than the window and after a success', () => {
    const { limiter, advance } = limiterAt();
    limiter.failed('c');
    limiter.failed('c');
    advance(61_000);
    limiter.failed('c');
    expect(refusal(() => limiter.check('c'))).toBeUndefined();
    limiter.failed('c');
    limiter.succeeded('c');
    limiter.failed('c');
    limiter.failed('c');
    expect(refusal(() => limiter.check('c'))).toBeUndefined();
  });

  it('tracks a bounded number of clients', () => {
    let now = 0;
    const limiter = new LoginLimiter({ attempts: 1, windowMs: 60_000, lockoutMs: 60_000, maxClients: 100 }, () => now);
    for (let i = 0; i < 1000; i++) limiter.failed(`client-${i}`);
    // The oldest were forgotten, the newest are still locked out.
    expect(refusal(() => limiter.check('client-0'))).toBeUndefined();
    expect(refusal(() => limiter.check('client-999'))?.code).toBe('TOOMANYREQUESTS');
    now += 1;
  });
});
