// Upload sessions: bytes are appended to the session's data key while a running hash is fed in
// the same pass; on finish the digest is checked and the bytes move into the content store
// (distribution's blobwriter Commit: check digest, move, link, drop the upload state).
// Session state lives in storage, so an upload survives a restart; the running hash is only an
// in-process shortcut, and when it is missing or stale the data is hashed again from storage.
import { randomUUID, createHash, type Hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { StorageDriver } from './drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import { HashingStage, digestOf, digestOfBytes, digestOfStream } from './hashing.js';
import { assertDigest, type DigestAlgorithm } from './grammar.js';
import { uploadDataKey, uploadPrefix, uploadStartedAtKey, uploadsPrefix } from './layout.js';
import type { BlobInfo, BlobStore } from './blobs.js';
import { KeyedLock } from './keyed-lock.js';

export interface UploadStatus {
  id: string;
  name: string;
  /** Bytes received so far. */
  size: number;
  startedAt?: Date;
}

interface RunningHash {
  hash: Hash;
  size: number;
  /** The algorithm the client asked for when it started (?digest-algorithm=, sha256 by default). */
  algorithm: DigestAlgorithm;
}

export interface UploadStoreOptions {
  /** Running hashes held at most; past it the least recently written is dropped. */
  maxRunningHashes?: number;
  /** A running hash whose upload received nothing for this long is dropped. */
  runningHashTtlMs?: number;
}

/** About 1 KiB each: a few MiB at most, however many uploads are started and abandoned. */
export const DEFAULT_MAX_RUNNING_HASHES = 4096;
export const DEFAULT_RUNNING_HASH_TTL_MS = 60 * 60 * 1000;

export class UploadStore {
  // Bounded, because clients may start uploads and never finish them. Losing an entry is safe:
  // finish() then hashes the stored bytes again.
  private readonly running: LRUCache<string, RunningHash>;
  private readonly locks = new KeyedLock();

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    options: UploadStoreOptions = {},
  ) {
    this.running = new LRUCache({
      max: options.maxRunningHashes ?? DEFAULT_MAX_RUNNING_HASHES,
      ttl: options.runningHashTtlMs ?? DEFAULT_RUNNING_HASH_TTL_MS,
    });
  }

  /** Running hashes held in memory now (a seam for tests). */
  get runningHashes(): number {
    return this.running.size;
  }

  /** Drops running hashes past their TTL (lru-cache only drops them when read); on a timer. */
  purgeStale(): void {
    this.running.purgeStale();
  }

  /** algorithm: what the running hash computes, so that finish() need not read the bytes again. */
  async start(name: string, algorithm: DigestAlgorithm = 'sha256'): Promise<UploadStatus> {
    const id = randomUUID();
    const startedAt = new Date();
    // The data object appears with the first bytes; until then startedat alone says it exists.
    await this.driver.putContent(uploadStartedAtKey(name, id), startedAt.toISOString());
    this.running.set(this.key(name, id), { hash: createHash(algorithm), size: 0, algorithm });
    return { id, name, size: 0, startedAt };
  }

  async status(name: string, id: string): Promise<UploadStatus> {
    try {
      const info = await this.driver.stat(uploadDataKey(name, id));
      return { id, name, size: info.size };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await this.driver.stat(uploadStartedAtKey(name, id));
      return { id, name, size: 0 };
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { detail: { uuid: id } });
      throw err;
    }
  }

  /**
   * A whole blob in one request (POST ?digest=, end-4b): written to a temporary object while
   * hashed, checked, then moved into the content store. No session state is written, since no
   * later request can continue it; a failed or interrupted write leaves nothing visible.
   */
  async putMonolithic(name: string, digest: string, source: Readable, signal?: AbortSignal): Promise<BlobInfo> {
    const { algorithm } = assertDigest(digest);
    const id = randomUUID();
    const key = uploadDataKey(name, id);
    const stage = new HashingStage(createHash(algorithm));
    const writer = await this.driver.writer(key, { signal });
    try {
      await pipeline(source, stage, writer.stream, { signal });
      await writer.commit();
    } catch (err) {
      await writer.abort().catch(() => {});
      await this.driver.delete(uploadPrefix(name, id)).catch(() => {});
      throw err;
    }
    const actual = `${algorithm}:${stage.hash.digest('hex')}`;
    if (actual !== digest) {
      await this.driver.delete(uploadPrefix(name, id));
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { detail: { expected: digest, actual } });
    }
    try {
      await this.blobs.store(key, digest, name);
    } finally {
      await this.driver.delete(uploadPrefix(name, id));
    }
    return { digest, size: stage.bytes };
  }

  /**
   * Appends a chunk. With start (from Content-Range), the chunk must begin exactly where the
   * upload ends: an out-of-order or overlapping chunk is 416 and changes nothing.
   */
  async append(name: string, id: string, source: Readable, options: { start?: number; signal?: AbortSignal } = {}): Promise<UploadStatus> {
    return this.locked(name, id, async () => {
      const current = await this.status(name, id);
      checkChunkStart(id, current.size, source, options.start);
      return this.write(name, id, current.size, source, options.signal);
    });
  }

  /**
   * Appends the last chunk (if any), verifies the digest and makes the blob visible in name. With
   * start, the chunk must begin where the upload ends, checked under the lock as append() does.
   */
  async finish(
    name: string,
    id: string,
    digest: string,
    source?: Readable,
    options: { start?: number; signal?: AbortSignal } = {},
  ): Promise<BlobInfo> {
    const { algorithm } = assertDigest(digest);
    return this.locked(name, id, async () => {
      let status = await this.status(name, id);
      checkChunkStart(id, status.size, source, options.start);
      if (source) status = await this.write(name, id, status.size, source, options.signal);
      const running = this.running.get(this.key(name, id));
      let actual: string;
      if (running && running.algorithm === algorithm && running.size === status.size) {
        actual = digestOf(running.hash, algorithm);
      } else if (status.size === 0) {
        // Nothing ever arrived, so there is no data object to hash again (a restart, or sha512).
        actual = digestOfBytes(Buffer.alloc(0), algorithm);
      } else {
        actual = (await digestOfStream(await this.driver.read(uploadDataKey(name, id)), algorithm)).digest;
      }
      if (actual !== digest) {
        await this.remove(name, id);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
          detail: { expected: digest, actual },
        });
      }
      // An upload that never received a byte has no data object yet (an empty blob).
      if (status.size === 0) await this.driver.putContent(uploadDataKey(name, id), Buffer.alloc(0));
      try {
        await this.blobs.store(uploadDataKey(name, id), digest, name);
      } finally {
        await this.remove(name, id);
      }
      return { digest, size: status.size };
    });
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.locked(name, id, async () => {
      await this.status(name, id);
      await this.remove(name, id);
    });
  }

  /** Deletes an abandoned session (upload purging), whatever state it is in. */
  async purge(name: string, id: string): Promise<void> {
    await this.locked(name, id, () => this.remove(name, id));
  }

  /** Upload sessions of a repository, for purging stale ones. */
  async list(name: string): Promise<string[]> {
    return this.driver.list(uploadsPrefix(name));
  }

  private async write(name: string, id: string, offset: number, source: Readable, signal?: AbortSignal): Promise<UploadStatus> {
    const key = this.key(name, id);
    let running = this.running.get(key);
    if (!running || running.size !== offset) {
      // Hash state lost (restart, another replica): keep counting, re-hash from storage on finish.
      running = undefined;
      this.running.delete(key);
    }
    const stage = new HashingStage(running?.hash ?? createHash('sha256'));
    const algorithm = running?.algorithm ?? 'sha256';
    const writer = await this.driver.writer(uploadDataKey(name, id), { append: true, signal });
    try {
      await pipeline(source, stage, writer.stream, { signal });
      await writer.commit();
    } catch (err) {
      // Some bytes may have landed and the hash may be ahead of them: trust only storage now.
      this.running.delete(key);
      await writer.abort().catch(() => {});
      throw err;
    }
    const size = offset + stage.bytes;
    if (running) {
      running.size = size;
      this.running.set(key, running); // a live upload's hash is the last to go
    } else if (offset === 0) {
      this.running.set(key, { hash: stage.hash, size, algorithm });
    }
    return { id, name, size };
  }

  private async remove(name: string, id: string): Promise<void> {
    this.running.delete(this.key(name, id));
    await this.driver.delete(uploadPrefix(name, id));
  }

  private key(name: string, id: string): string {
    return `${name}/${id}`;
  }

  /** Serialises operations on one upload within this process (chunks must not interleave). */
  private locked<T>(name: string, id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(this.key(name, id), fn);
  }
}

/** An out-of-order or overlapping chunk is 416, its body drained, and changes nothing. */
function checkChunkStart(id: string, size: number, source: Readable | undefined, start: number | undefined): void {
  if (start === undefined || start === size) return;
  source?.resume();
  throw new RegistryError('RANGE_INVALID', 'chunk does not start where the upload ends', {
    // The answer tells the client where to resume (server/errors.ts).
    detail: { start, size, uuid: id },
  });
}
