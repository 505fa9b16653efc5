// Slows down password guessing: a client (an IP address) that fails `attempts` logins within
// `window` is refused with 429 TOOMANYREQUESTS and Retry-After for `lockout`, without a password
// check. Each client is counted on its own, so one guesser locks out nobody else. Memory is
// bounded: at most `maxClients` are tracked, the least recently seen forgotten first.
import { LRUCache } from 'lru-cache';
import { RegistryError } from '../storage/errors.js';

export interface LoginLimits {
  attempts: number;
  windowMs: number;
  lockoutMs: number;
  maxClients?: number;
}

interface ClientState {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export class LoginLimiter {
  private readonly clients: LRUCache<string, ClientState>;

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.clients = new LRUCache({ max: limits.maxClients ?? 10_000 });
  }

  /** Throws TOOMANYREQUESTS when client may not try a password now. */
  check(client: string): void {
    const state = this.clients.get(client);
    if (!state) return;
    const wait = state.lockedUntil - this.now();
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', {
        headers: { 'Retry-After': String(seconds) },
        detail: { retryAfterSeconds: seconds },
      });
    }
  }

  failed(client: string): void {
    const now = this.now();
    let state = this.clients.get(client);
    if (!state || now - state.windowStart > this.limits.windowMs) {
      state = { failures: 0, windowStart: now, lockedUntil: 0 };
      this.clients.set(client, state);
    }
    state.failures += 1;
    if (state.failures >= this.limits.attempts) {
      state.lockedUntil = now + this.limits.lockoutMs;
      // After the lockout the client starts a fresh window.
      state.failures = 0;
      state.windowStart = state.lockedUntil;
    }
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }
}
