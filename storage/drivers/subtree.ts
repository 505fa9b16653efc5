// A driver seen from below one of its prefixes: every key is `<prefix>/<key>` of the driver it
// wraps, on any backend. This is how stowage serves a registry:2 tree in place: Distribution keeps
// its data under docker/registry/v2/ of its root directory or S3 prefix (storage/open.ts).
import type { Readable, Writable } from 'node:stream';
import { assertKey, type ByteRange, type DriverWriter, type ListOptions, type ObjectInfo, type StorageDriver } from './driver.js';

export class SubtreeDriver implements StorageDriver {
  readonly kind: string;
  readonly clockMarginMs: number;
  readonly shared: boolean;

  constructor(
    readonly inner: StorageDriver,
    readonly prefix: string,
  ) {
    assertKey(prefix);
    this.kind = inner.kind;
    this.clockMarginMs = inner.clockMarginMs;
    this.shared = inner.shared;
  }

  /** Throws on a bad key: every method is async, so callers get a rejection, as from any driver. */
  private key(key: string): string {
    return `${this.prefix}/${assertKey(key)}`;
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return this.inner.stat(this.key(key), signal);
  }

  async read(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.inner.read(this.key(key), range, signal);
  }

  async copyTo(key: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number> {
    return this.inner.copyTo(this.key(key), destination, range, signal);
  }

  async getContent(key: string, signal?: AbortSignal): Promise<Buffer> {
    return this.inner.getContent(this.key(key), signal);
  }

  async putContent(key: string, content: Buffer | string, signal?: AbortSignal): Promise<void> {
    return this.inner.putContent(this.key(key), content, signal);
  }

  async writer(key: string, options?: { append?: boolean; signal?: AbortSignal }): Promise<DriverWriter> {
    return this.inner.writer(this.key(key), options);
  }

  async list(prefix: string, options?: ListOptions): Promise<string[]> {
    return this.inner.list(this.key(prefix), options);
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return this.inner.move(this.key(from), this.key(to), signal);
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    return this.inner.delete(this.key(key), signal);
  }

  async touch(key: string): Promise<boolean> {
    return this.inner.touch(this.key(key));
  }

  async setAside(key: string, aside: string): Promise<Date | undefined> {
    return this.inner.setAside(this.key(key), this.key(aside));
  }

  async check(): Promise<void> {
    return this.inner.check();
  }

  /** Undefined (the registry serves the bytes) when the wrapped driver has no URLs to give. */
  async urlFor(key: string, expiresInSeconds: number): Promise<string | undefined> {
    return this.inner.urlFor?.(this.key(key), expiresInSeconds);
  }
}
