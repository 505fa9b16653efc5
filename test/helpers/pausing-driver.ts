// A driver that stops chosen calls at a gate until the test opens it: how the race tests put a
// push exactly between two steps of a garbage collection (or the reverse) on every driver,
// without timing anything.
import type { Readable, Writable } from 'node:stream';
import type { ByteRange, DriverWriter, ListOptions, ObjectInfo, StorageDriver } from '../../storage/drivers/driver.js';

/** getContent waits after it has read, holding what it read: how a test makes a read that began
 *  before a change answer after it. Every other operation waits before it runs. */
export type Operation = 'stat' | 'list' | 'getContent' | 'putContent' | 'delete' | 'setAside' | 'touch' | 'move';

export interface Gate {
  /** Resolves with the key when a matching call has arrived and is waiting. */
  readonly reached: Promise<string>;
  /** Lets the waiting call (and every later matching one) through. */
  open(): void;
  /** Whether a matching call ever arrived. */
  readonly hit: boolean;
}

interface Rule {
  operation: Operation;
  matches: (key: string) => boolean;
  /** Runs when the call arrives, before it waits (e.g. to make a directory a write would make). */
  before?: (key: string) => Promise<void>;
  once: boolean;
  fired: boolean;
  gate: Promise<void>;
  release: () => void;
  arrived: (key: string) => void;
  hit: boolean;
}

export class PausingDriver implements StorageDriver {
  private readonly rules: Rule[] = [];
  /** Every call made, in order, as "operation key". */
  readonly calls: string[] = [];

  constructor(private readonly inner: StorageDriver) {}

  get kind(): string {
    return this.inner.kind;
  }

  get clockMarginMs(): number {
    return this.inner.clockMarginMs;
  }

  get shared(): boolean {
    return this.inner.shared;
  }

  /** Stops the first call of operation whose key matches until the gate opens. */
  pause(operation: Operation, matches: (key: string) => boolean, options: { before?: (key: string) => Promise<void> } = {}): Gate {
    let release!: () => void;
    let arrived!: (key: string) => void;
    const rule: Rule = {
      operation,
      matches,
      before: options.before,
      once: true,
      fired: false,
      gate: new Promise<void>((resolve) => (release = resolve)),
      release: () => release(),
      arrived: (key) => arrived(key),
      hit: false,
    };
    const reached = new Promise<string>((resolve) => (arrived = resolve));
    this.rules.push(rule);
    return {
      reached,
      open: () => rule.release(),
      get hit() {
        return rule.hit;
      },
    };
  }

  private async gateFor(operation: Operation, key: string): Promise<void> {
    this.calls.push(`${operation} ${key}`);
    for (const rule of this.rules) {
      if (rule.operation !== operation || (rule.once && rule.fired) || !rule.matches(key)) continue;
      rule.fired = true;
      rule.hit = true;
      await rule.before?.(key);
      rule.arrived(key);
      await rule.gate;
    }
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    await this.gateFor('stat', key);
    return this.inner.stat(key, signal);
  }

  read(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.inner.read(key, range, signal);
  }

  copyTo(key: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number> {
    return this.inner.copyTo(key, destination, range, signal);
  }

  async getContent(key: string, signal?: AbortSignal): Promise<Buffer> {
    const content = await this.inner.getContent(key, signal);
    await this.gateFor('getContent', key);
    return content;
  }

  async putContent(key: string, content: Buffer | string, signal?: AbortSignal): Promise<void> {
    await this.gateFor('putContent', key);
    return this.inner.putContent(key, content, signal);
  }

  writer(key: string, options?: { append?: boolean; signal?: AbortSignal }): Promise<DriverWriter> {
    return this.inner.writer(key, options);
  }

  async list(prefix: string, options?: ListOptions): Promise<string[]> {
    await this.gateFor('list', prefix);
    return this.inner.list(prefix, options);
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    await this.gateFor('move', from);
    return this.inner.move(from, to, signal);
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.gateFor('delete', key);
    return this.inner.delete(key, signal);
  }

  check(): Promise<void> {
    return this.inner.check();
  }

  async touch(key: string): Promise<boolean> {
    await this.gateFor('touch', key);
    return this.inner.touch(key);
  }

  async setAside(key: string, aside: string): Promise<Date | undefined> {
    await this.gateFor('setAside', key);
    return this.inner.setAside(key, aside);
  }

  urlFor(key: string, expiresInSeconds: number): Promise<string | undefined> {
    return this.inner.urlFor?.(key, expiresInSeconds) ?? Promise.resolve(undefined);
  }
}
