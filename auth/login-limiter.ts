// Slows down password guessing. Failures are counted per client address and per user name: an
// address or a user with `attempts` failures within `window` is refused with 429 TOOMANYREQUESTS
// and Retry-After for `lockout`, without a password check. A check is reserved before it runs and
// counts as a failure until it succeeds, so N guesses sent at once count N, and at most
// `concurrent` checks run at a time for one address and for one user (more get 429 at once).
// A success gives back its own reservation and clears its user's failures (only the password's
// owner can do that), never the address's: a valid account cannot wipe guesses made at others.
// Memory is bounded: at most `maxClients` addresses and as many users are tracked, the least
// recently seen forgotten first.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../errors/registry-error.js';

export interface LoginLimits {
  attempts: number;
  windowMs: number;
  lockoutMs: number;
  /** Password checks in progress at once for one address, and for one user (default 2). */
  concurrent?: number;
  maxClients?: number;
}

/** What a reserved password check ends as. */
export interface LoginAttempt {
  succeeded(): void;
  failed(): void;
  /** The password was never checked (the check could not run): give the reservation back. */
  abandoned(): void;
}

interface Counter {
  /** Failed checks in the current window. */
  failures: number;
  /** Checks reserved and not yet ended. */
  pending: number;
  windowStart: number;
  lockedUntil: number;
}

export function tooManyRequests(seconds: number, message: string): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', message, {
    headers: { 'Retry-After': String(seconds) },
    detail: { retryAfterSeconds: seconds },
  });
}

export class LoginLimiter {
  private readonly addresses: LRUCache<string, Counter>;
  private readonly users: LRUCache<string, Counter>;
  private readonly concurrent: number;

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.addresses = new LRUCache({ max: limits.maxClients ?? 10_000 });
    this.users = new LRUCache({ max: limits.maxClients ?? 10_000 });
    this.concurrent = Math.max(1, limits.concurrent ?? 2);
  }

  /** Throws TOOMANYREQUESTS while client, or user when given, is locked out. */
  check(client: string, user?: string): void {
    const now = this.now();
    for (const counter of this.countersOf(client, user, false)) this.assertNotLocked(counter, now);
  }

  /**
   * Reserves one password check for client and user. Throws TOOMANYREQUESTS when either is locked
   * out, has no attempts left in its window, or has `concurrent` checks in progress.
   */
  begin(client: string, user: string): LoginAttempt {
    const now = this.now();
    const counters = this.countersOf(client, user, true);
    for (const counter of counters) {
      this.assertNotLocked(counter, now);
      if (now - counter.windowStart > this.limits.windowMs) {
        counter.failures = 0;
        counter.windowStart = now;
      }
      // Checks in progress end within seconds; then the client may try again or is locked out.
      if (counter.pending >= this.concurrent || counter.failures + counter.pending >= this.limits.attempts) {
        throw tooManyRequests(1, 'too many logins at once; try again shortly');
      }
    }
    for (const counter of counters) counter.pending += 1;
    const named = counters[1];
    let ended = false;
    const end = (outcome: 'succeeded' | 'failed' | 'abandoned') => {
      if (ended) return;
      ended = true;
      for (const counter of counters) counter.pending -= 1;
      if (outcome === 'failed') for (const counter of counters) this.fail(counter);
      if (outcome === 'succeeded') named.failures = 0;
    };
    return { succeeded: () => end('succeeded'), failed: () => end('failed'), abandoned: () => end('abandoned') };
  }

  private fail(counter: Counter): void {
    const now = this.now();
    if (now - counter.windowStart > this.limits.windowMs) {
      counter.failures = 0;
      counter.windowStart = now;
    }
    counter.failures += 1;
    if (counter.failures >= this.limits.attempts) {
      counter.lockedUntil = now + this.limits.lockoutMs;
      // After the lockout a fresh window starts.
      counter.failures = 0;
      counter.windowStart = counter.lockedUntil;
    }
  }

  private assertNotLocked(counter: Counter, now: number): void {
    const wait = counter.lockedUntil - now;
    if (wait > 0) throw tooManyRequests(Math.ceil(wait / 1000), 'too many failed logins; try again later');
  }

  /** The counters of client and user; create makes missing ones, else only those that exist. */
  private countersOf(client: string, user: string | undefined, create: boolean): Counter[] {
    const keys: Array<[LRUCache<string, Counter>, string]> = [[this.addresses, client]];
    // User names come from the request: hashed, so a long one costs no more memory than a short one.
    if (user !== undefined) keys.push([this.users, createHash('sha256').update(user).digest('base64')]);
    const out: Counter[] = [];
    for (const [cache, key] of keys) {
      let counter = cache.get(key);
      if (!counter && create) {
        counter = { failures: 0, pending: 0, windowStart: this.now(), lockedUntil: 0 };
        cache.set(key, counter);
      }
      if (counter) out.push(counter);
    }
    return out;
  }
}
