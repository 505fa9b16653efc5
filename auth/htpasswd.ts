// Users and bcrypt password hashes from an Apache htpasswd file (`htpasswd -B`), as Distribution's
// auth.htpasswd reads it. Checks run on worker threads (auth/bcrypt-workers.ts) and cost the same
// whether or not the user exists; a successful check is remembered briefly (clients send Basic
// credentials with every request and bcrypt is slow on purpose), and identical credentials being
// checked are checked once. The file is re-read when it changes. Passwords and hashes are never
// logged.
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { sharedBcryptWorkers, type PasswordChecker } from './bcrypt-workers.js';

const BCRYPT_RE = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** How often the file's modification time is looked at. */
const RECHECK_MS = 1000;

export class HtpasswdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HtpasswdError';
  }
}

/** Parses htpasswd text: "user:hash" lines, blank lines and # comments. Only bcrypt is accepted. */
export function parseHtpasswd(text: string, source = 'htpasswd'): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon > 0 ? line.slice(0, colon) : '';
    const hash = line.slice(colon + 1);
    if (!user) throw new HtpasswdError(`${source} line ${index + 1}: expected "user:hash"`);
    // The hash itself stays out of the message.
    if (!BCRYPT_RE.test(hash))
      throw new HtpasswdError(`${source} line ${index + 1}: the hash of "${user}" is not bcrypt (create it with htpasswd -B)`);
    users.set(user, hash);
  });
  return users;
}

/** How a reserved password check ended (auth/login-limiter.ts's LoginAttempt). */
export interface CheckReservation {
  succeeded(): void;
  failed(): void;
  abandoned(): void;
}

export class Htpasswd {
  private users: Map<string, string>;
  private dummyHash: string;
  private mtimeMs: number;
  private checkedAt = 0;
  private reloading: Promise<void> | undefined;
  /** HMAC of recently verified credentials; the key lives only in this process. */
  private readonly verified = new LRUCache<string, true>({ max: 1000, ttl: 60_000 });
  private readonly cacheKey = randomBytes(32);
  /** Checks in progress by credentials: a client sending several requests at once is checked once. */
  private readonly checking = new Map<string, Promise<boolean>>();

  private constructor(
    private readonly path: string,
    users: Map<string, string>,
    mtimeMs: number,
    private readonly onReloadError: (err: Error) => void,
    private readonly checker: PasswordChecker,
  ) {
    this.users = users;
    this.mtimeMs = mtimeMs;
    this.dummyHash = Htpasswd.dummyFor(users);
  }

  /** Reads the file; throws HtpasswdError naming the file when it is missing or malformed. */
  static async open(path: string, onReloadError: (err: Error) => void = () => {}, checker: PasswordChecker = sharedBcryptWorkers): Promise<Htpasswd> {
    let text: string;
    let mtimeMs: number;
    try {
      [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    } catch (err) {
      throw new HtpasswdError(`cannot read htpasswd file ${path}: ${(err as Error).message}`);
    }
    return new Htpasswd(path, parseHtpasswd(text, path), mtimeMs, onReloadError, checker);
  }

  /**
   * What an unknown user's password is compared against: a hash of the highest cost in the file,
   * so no user takes longer to refuse than a name that does not exist. Random characters of bcrypt's
   * alphabet make a hash no password matches, without hashing anything here.
   */
  private static dummyFor(users: Map<string, string>): string {
    let cost = 10;
    if (users.size > 0) cost = Math.max(...[...users.values()].map((hash) => Number(BCRYPT_RE.exec(hash)?.[1] ?? 10)));
    cost = Math.min(Math.max(cost, 4), 31);
    let rest = '';
    for (let i = 0; i < 53; i++) rest += BCRYPT_ALPHABET[randomInt(BCRYPT_ALPHABET.length)];
    return `$2b$${String(cost).padStart(2, '0')}$${rest}`;
  }

  get size(): number {
    return this.users.size;
  }

  /**
   * Whether password is the user's. Never throws for bad input; runs one bcrypt check unless the
   * credentials were verified lately or are being checked already. beforeCheck is called just
   * before a check starts (it may throw to refuse it) and told how the check ended.
   */
  async verify(user: string, password: string, beforeCheck?: () => CheckReservation): Promise<boolean> {
    await this.reloadIfChanged();
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest('base64');
    const hash = this.users.get(user);
    if (hash !== undefined && this.verified.get(key)) return true;
    const inProgress = this.checking.get(key);
    if (inProgress) return inProgress;
    const reservation = beforeCheck?.();
    const check = this.check(key, user, password, hash, reservation);
    this.checking.set(key, check);
    try {
      return await check;
    } finally {
      this.checking.delete(key);
    }
  }

  private async check(key: string, user: string, password: string, hash: string | undefined, reservation?: CheckReservation): Promise<boolean> {
    let ok: boolean;
    try {
      // bcrypt compares in constant time; an unknown user costs the same as a wrong password.
      ok = (await this.checker.compare(password, hash ?? this.dummyHash)) && hash !== undefined;
    } catch (err) {
      reservation?.abandoned();
      throw err;
    }
    // The file may have changed while the check ran: only a hash still current counts.
    ok &&= this.users.get(user) === hash;
    if (ok) this.verified.set(key, true);
    if (ok) reservation?.succeeded();
    else reservation?.failed();
    return ok;
  }

  private async reloadIfChanged(): Promise<void> {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return this.reloading;
    this.checkedAt = now;
    this.reloading = (async () => {
      try {
        const { mtimeMs } = await stat(this.path);
        if (mtimeMs === this.mtimeMs) return;
        const users = parseHtpasswd(await readFile(this.path, 'utf8'), this.path);
        this.users = users;
        this.mtimeMs = mtimeMs;
        this.dummyHash = Htpasswd.dummyFor(users);
        this.verified.clear();
      } catch (err) {
        // Keep serving the users we have; a half-written or removed file must not lock everyone out.
        this.onReloadError(err as Error);
      }
    })();
    return this.reloading;
  }
}
