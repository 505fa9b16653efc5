// Users and bcrypt password hashes from an Apache htpasswd file (`htpasswd -B`), as Distribution's
// auth.htpasswd reads it. Checks take the same time whether or not the user exists, a successful
// check is remembered briefly (clients send Basic credentials with every request and bcrypt is
// slow on purpose), and the file is re-read when it changes. Passwords and hashes are never logged.
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';

const BCRYPT_RE = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;
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
    if (!BCRYPT_RE.test(hash)) throw new HtpasswdError(`${source} line ${index + 1}: the hash of "${user}" is not bcrypt (create it with htpasswd -B)`);
    users.set(user, hash);
  });
  return users;
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

  private constructor(
    private readonly path: string,
    users: Map<string, string>,
    mtimeMs: number,
    private readonly onReloadError: (err: Error) => void,
  ) {
    this.users = users;
    this.mtimeMs = mtimeMs;
    this.dummyHash = Htpasswd.dummyFor(users);
  }

  /** Reads the file; throws HtpasswdError naming the file when it is missing or malformed. */
  static async open(path: string, onReloadError: (err: Error) => void = () => {}): Promise<Htpasswd> {
    let text: string;
    let mtimeMs: number;
    try {
      [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    } catch (err) {
      throw new HtpasswdError(`cannot read htpasswd file ${path}: ${(err as Error).message}`);
    }
    return new Htpasswd(path, parseHtpasswd(text, path), mtimeMs, onReloadError);
  }

  /** A hash of the same cost as the file's, compared against when the user does not exist. */
  private static dummyFor(users: Map<string, string>): string {
    const first = users.values().next().value as string | undefined;
    const cost = first ? Number(BCRYPT_RE.exec(first)?.[1] ?? 10) : 10;
    return bcrypt.hashSync(randomBytes(16).toString('hex'), Math.min(Math.max(cost, 4), 14));
  }

  get size(): number {
    return this.users.size;
  }

  /** Whether password is the user's. Never throws for bad input; always runs one bcrypt compare. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.reloadIfChanged();
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest('base64');
    const hash = this.users.get(user);
    if (hash !== undefined && this.verified.get(key)) return true;
    // bcrypt compares in constant time; an unknown user costs the same as a wrong password.
    const ok = await bcrypt.compare(password, hash ?? this.dummyHash);
    if (ok && hash !== undefined) {
      this.verified.set(key, true);
      return true;
    }
    return false;
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
