// How much one upstream is trusted right now (after Verdaccio's uplink max_fails/fail_timeout):
// after maxFails failures in a row the upstream counts as offline for failTimeout, and the proxy
// answers from its cache at once instead of waiting on a dead host. When the time is up, the next
// request is a probe: one more failure makes it offline again, one success clears the count.

export interface UpstreamPolicyOptions {
  maxFails?: number;
  failTimeoutMs?: number;
  now?: () => number;
}

export class UpstreamPolicy {
  private readonly maxFails: number;
  private readonly failTimeoutMs: number;
  private readonly now: () => number;
  private fails = 0;
  private offlineUntil = 0;

  constructor(options: UpstreamPolicyOptions = {}) {
    this.maxFails = Math.max(1, options.maxFails ?? 3);
    this.failTimeoutMs = options.failTimeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  isOffline(): boolean {
    return this.now() < this.offlineUntil;
  }

  recordSuccess(): void {
    this.fails = 0;
    this.offlineUntil = 0;
  }

  /** Returns true when this failure made the upstream count as offline. */
  recordFailure(): boolean {
    this.fails += 1;
    if (this.fails < this.maxFails) return false;
    const wasOffline = this.isOffline();
    this.offlineUntil = this.now() + this.failTimeoutMs;
    return !wasOffline;
  }
}
