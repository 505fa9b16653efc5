// Single-flight cache fills for proxied blobs. Per digest, one upstream GET streams through a
// hashing stage into a spool file on local disk; every requester, first and later, reads the
// spool behind the writer as it grows, so all of them get bytes as they arrive, memory stays
// bounded and a slow client never stalls the fill (or the others). The fill has its own abort
// signal and timeout: clients hanging up do not waste a download others wait on. Only when the
// body ended with the right digest and size are the bytes committed to the content store and
// linked into the repositories that asked; until then each reader holds back the last byte, so
// a broken or corrupt transfer ends every reader's response in an error, never in a short success.
import type { ProxyObserver } from './observer.js';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { randomUUID, createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { RegistryError } from '../errors/registry-error.js';
import { assertDigest } from '../storage/grammar.js';
import { HashingStage } from '../storage/hashing.js';
import type { RegistryStorage } from '../storage/registry.js';
import type { Upstream } from './routing.js';
import { contentLength, UpstreamUnavailableError } from './upstream-client.js';

const READ_CHUNK = 256 * 1024;

export interface FillSource {
  upstream: Upstream;
  remoteName: string;
  /** The stowage-side repository the blob is linked into once committed. */
  name: string;
}

export interface BlobFillsOptions {
  storage: RegistryStorage;
  logger: Logger;
  /** Where spool files live while a fill runs (default: the OS temp directory). */
  spoolDir?: string;
  /** Deadline for a whole fill, independent of any client (default 1 hour). */
  timeoutMs?: number;
  /** Told the size of each blob a fill added to the content store. */
  onStored?: (digest: string, size: number) => void;
  /** Counts joins, misses, failures and upstream bytes (metrics). */
  observer?: ProxyObserver;
}

export interface FilledBlob {
  /** From upstream's Content-Length; undefined when upstream sent none. */
  size?: number;
  stream: Readable;
}

type FillState = 'starting' | 'filling' | 'verified' | 'failed';

/** One upstream download of one digest, and the spool file its readers follow. */
export class BlobFill extends EventEmitter {
  state: FillState = 'starting';
  size?: number;
  /** Bytes on disk in the spool, readable by followers. */
  written = 0;
  error?: Error;
  readonly ready: Promise<void>;
  readonly spoolPath: string;
  private readonly names = new Set<string>();
  private readers = 0;
  private finished = false;
  private released = false;
  private markReady!: () => void;
  private failReady!: (err: Error) => void;

  constructor(
    readonly digest: string,
    spoolDir: string,
  ) {
    super();
    this.setMaxListeners(0);
    this.spoolPath = path.join(spoolDir, `fill-${randomUUID()}`);
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // Joiners attach their own handlers; an unobserved rejection must not crash the process.
    this.ready.catch(() => {});
  }

  addName(name: string): void {
    this.names.add(name);
  }

  repositoryNames(): string[] {
    return [...this.names];
  }

  /** A stream of the blob that follows the spool; counted so the spool outlives it. */
  createReader(): Readable {
    this.readers += 1;
    return new SpoolReader(this, () => {
      this.readers -= 1;
      void this.releaseIfIdle();
    });
  }

  /** How far readers may read: all bytes once verified, else all but the last one on disk. */
  readableLimit(): number {
    return this.state === 'verified' ? this.written : Math.max(0, this.written - 1);
  }

  started(size: number | undefined): void {
    this.size = size;
    this.state = 'filling';
    this.markReady();
  }

  progressed(written: number): void {
    this.written = written;
    this.emit('progress');
  }

  verified(): void {
    this.state = 'verified';
    this.emit('progress');
  }

  failed(err: Error): void {
    this.state = 'failed';
    this.error = err;
    this.failReady(err);
    this.emit('progress');
  }

  /** The fill will touch the spool no more: it goes once the last reader is done. */
  async finish(): Promise<void> {
    this.finished = true;
    await this.releaseIfIdle();
  }

  private async releaseIfIdle(): Promise<void> {
    if (!this.finished || this.readers > 0 || this.released) return;
    this.released = true;
    await fsp.rm(this.spoolPath, { force: true });
  }
}

/** Reads a spool file behind its writer: at the end of what is on disk it waits for progress. */
class SpoolReader extends Readable {
  private handle?: fsp.FileHandle;
  private position = 0;
  private reading = false;
  private readonly onProgress = () => this.pump();

  constructor(
    private readonly fill: BlobFill,
    private readonly onClose: () => void,
  ) {
    super({ highWaterMark: READ_CHUNK });
    fill.on('progress', this.onProgress);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    // The spool exists from the moment the fill is ready; before that there is nothing to read.
    this.fill.ready.then(
      () =>
        fsp.open(this.fill.spoolPath, 'r').then((h) => {
          this.handle = h;
          callback();
        }, callback),
      (err: Error) => callback(err),
    );
  }

  override _read(): void {
    this.reading = true;
    this.pump();
  }

  private pump(): void {
    if (!this.reading || !this.handle || this.destroyed) return;
    if (this.fill.state === 'failed') {
      this.destroy(this.fill.error ?? new Error('upstream transfer failed'));
      return;
    }
    const limit = this.fill.readableLimit();
    if (this.position >= limit) {
      if (this.fill.state === 'verified') this.push(null);
      // Otherwise wait: the next 'progress' calls pump again.
      return;
    }
    this.reading = false;
    const length = Math.min(READ_CHUNK, limit - this.position);
    const buffer = Buffer.allocUnsafe(length);
    this.handle.read(buffer, 0, length, this.position).then(
      ({ bytesRead }) => {
        this.position += bytesRead;
        // push() asks for more (calls _read) while under the high-water mark.
        this.push(buffer.subarray(0, bytesRead));
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.fill.off('progress', this.onProgress);
    const handle = this.handle;
    this.handle = undefined;
    const done = () => {
      this.onClose();
      callback(err);
    };
    if (handle) handle.close().then(done, done);
    else done();
  }
}

/** Writes a stream into the spool file and reports each landed chunk. */
class SpoolWriter extends Writable {
  private written = 0;

  constructor(
    private readonly handle: fsp.FileHandle,
    private readonly fill: BlobFill,
  ) {
    super({ highWaterMark: READ_CHUNK });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll(chunk).then(() => callback(), callback);
  }

  // Chunks that queued up while a write was in flight go down in one system call.
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeAll(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset, this.written);
      offset += bytesWritten;
      this.written += bytesWritten;
    }
    this.fill.progressed(this.written);
  }
}

export class BlobFills {
  private readonly fills = new Map<string, BlobFill>();
  private readonly running = new Set<Promise<void>>();
  private readonly spoolDir: string;
  private readonly timeoutMs: number;
  private spoolReady?: Promise<void>;

  constructor(private readonly options: BlobFillsOptions) {
    this.spoolDir = options.spoolDir ?? path.join(os.tmpdir(), 'stowage-spool');
    this.timeoutMs = options.timeoutMs ?? 60 * 60 * 1000;
  }

  /** Resolves when every fill started so far has committed or failed (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** The fill in flight for digest, if any. */
  inFlight(digest: string): BlobFill | undefined {
    return this.fills.get(digest);
  }

  /**
   * A stream of the blob from the one fill of its digest, started here if none runs. Resolves once
   * upstream has answered; rejects with BLOB_UNKNOWN or UNAVAILABLE when it will not send it.
   */
  async open(digest: string, source: FillSource): Promise<FilledBlob> {
    assertDigest(digest);
    let fill = this.fills.get(digest);
    if (fill) {
      this.options.logger.debug({ digest, name: source.name }, 'proxy blob joins a fill in flight');
      this.options.observer?.lookup(source.upstream, 'blob', 'joined');
    } else {
      fill = new BlobFill(digest, this.spoolDir);
      this.fills.set(digest, fill);
      const run = this.run(fill, source);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
    fill.addName(source.name);
    // The reader is counted before any await, so the spool cannot be released under it.
    const stream = fill.createReader();
    // Until the caller has the stream, a refused fill is reported by the rejection below.
    const ignore = () => {};
    stream.on('error', ignore);
    try {
      await fill.ready;
    } catch (err) {
      stream.destroy();
      throw err;
    }
    stream.off('error', ignore);
    return { size: fill.size, stream };
  }

  private async run(fill: BlobFill, source: FillSource): Promise<void> {
    const { logger } = this.options;
    const { algorithm } = assertDigest(fill.digest);
    const signal = AbortSignal.timeout(this.timeoutMs);
    const started = Date.now();
    let handle: fsp.FileHandle | undefined;
    try {
      const res = await source.upstream.client.blob('GET', source.remoteName, fill.digest, signal).catch((err: unknown) => {
        throw unavailable(source, err);
      });
      if (res.status !== 200) {
        res.body.resume();
        if (res.status === 404 || res.status === 401 || res.status === 403) {
          throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest: fill.digest, upstream: res.status } });
        }
        throw new RegistryError('UNAVAILABLE', `upstream answered ${res.status}`, { status: 502, detail: { digest: fill.digest } });
      }
      this.spoolReady ??= fsp.mkdir(this.spoolDir, { recursive: true }).then(() => undefined);
      await this.spoolReady;
      handle = await fsp.open(fill.spoolPath, 'w');
      const expected = contentLength(res.headers);
      fill.started(expected);
      logger.info(
        { digest: fill.digest, name: source.name, upstream: source.upstream.client.host, size: expected },
        'proxy blob miss: filling from upstream',
      );
      this.options.observer?.lookup(source.upstream, 'blob', 'miss');
      const hashing = new HashingStage(createHash(algorithm));
      await pipeline(res.body, hashing, new SpoolWriter(handle, fill), { signal });
      const actual = `${algorithm}:${hashing.hash.digest('hex')}`;
      if (actual !== fill.digest || (expected !== undefined && hashing.bytes !== expected)) {
        throw new RegistryError('UNAVAILABLE', 'upstream sent a blob that does not match its digest', {
          status: 502,
          detail: { digest: fill.digest, actual, bytes: hashing.bytes, expected },
        });
      }
      await handle.close();
      handle = undefined;
      fill.verified();
      logger.info(
        { digest: fill.digest, name: source.name, upstream: source.upstream.client.host, upstreamBytes: hashing.bytes, ms: Date.now() - started },
        'proxy blob fetched from upstream',
      );
      this.options.observer?.upstreamBytes(source.upstream, hashing.bytes);
      if (await this.commit(fill)) this.options.onStored?.(fill.digest, hashing.bytes);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (fill.state !== 'verified') {
        fill.failed(error);
        logger.warn(
          { digest: fill.digest, name: source.name, err: error.message, ms: Date.now() - started },
          'proxy blob fill failed: nothing cached',
        );
        this.options.observer?.lookup(source.upstream, 'blob', 'error');
        // Not for a blob upstream does not have: that is an answer, not a failure.
        if (error instanceof RegistryError && error.code === 'UNAVAILABLE') this.options.observer?.upstreamError(source.upstream);
      } else {
        logger.error({ digest: fill.digest, err: error }, 'proxy blob verified but could not be stored');
      }
    } finally {
      await handle?.close().catch(() => {});
      this.fills.delete(fill.digest);
      await fill.finish();
    }
  }

  /**
   * Stores the verified spool as a push stores a monolithic upload (write, check, commit, link)
   * into the first repository that asked, and links it into the others. Returns whether the
   * bytes are new to the content store.
   */
  private async commit(fill: BlobFill): Promise<boolean> {
    const { storage } = this.options;
    const names = [...fill.repositoryNames()];
    const isNew = (await storage.blobs.statGlobal(fill.digest)) === undefined;
    if (!isNew) {
      let linked = true;
      for (const name of names) linked = (await storage.blobs.link(name, fill.digest)) && linked;
      // Collected since the check: store the spool after all.
      if (linked) return false;
    }
    await storage.uploads.putMonolithic(names[0], fill.digest, createReadStream(fill.spoolPath));
    for (const name of names.slice(1)) await storage.blobs.link(name, fill.digest);
    return isNew;
  }
}

function unavailable(source: FillSource, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const message = err instanceof UpstreamUnavailableError ? err.message : `upstream ${source.upstream.client.host}: ${(err as Error).message}`;
  return new RegistryError('UNAVAILABLE', message, { detail: { name: source.name } });
}
