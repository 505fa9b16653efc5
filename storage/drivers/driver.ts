// The storage driver contract: a small, file-like key/value store that knows nothing of digests,
// repositories or HTTP. Keys are "/"-separated paths built only by storage/layout.ts.
// Every driver runs the same contract suite (test/contract/driver.contract.ts).
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ObjectInfo {
  size: number;
  modifiedAt: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** A stream being written to a key. Nothing is visible under the key until commit() resolves
 *  (for append writers: the appended bytes are visible as they land, see below). */
export interface DriverWriter {
  readonly stream: Writable;
  /** Call after the stream has finished: makes the bytes visible under the key, atomically. */
  commit(): Promise<void>;
  /** Call when the stream failed: removes whatever the writer left behind (never the previous object). */
  abort(): Promise<void>;
}

export interface ListOptions {
  signal?: AbortSignal;
}

/**
 * Durability: a write that resolved (putContent, a plain writer's commit, move) is on stable
 * storage and survives a crash or power loss; one that did not leaves the previous object or
 * nothing under its key, never a part. Appended bytes need be stable only once the object is
 * moved (upload sessions are scratch space), and deletes not at all (a deleted key may return).
 * A driver's temporary objects are never visible under any key, nor in list().
 */
export interface StorageDriver {
  /** A short name for logs and the status page ("filesystem", "s3"). */
  readonly kind: string;

  /**
   * Whether processes on other hosts open this storage too (S3): start-up then checks that every
   * process on it uses one metadata database (storage/database-claim.ts). A filesystem counts
   * as one host's: by default the database file lies inside it, shared by whoever shares it.
   */
  readonly shared: boolean;

  /**
   * How far apart the times this storage stamps can be for two writes in a known order (whole
   * seconds and clock skew on S3; none on a local filesystem, whose writers share the host's
   * clock). Garbage collection never deletes anything used within this of its start.
   */
  readonly clockMarginMs: number;

  /** Size and modification time of the object at key. Throws NotFoundError when absent. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo>;

  /** A stream of the object's bytes (all, or the inclusive range). Throws NotFoundError when absent. */
  read(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;

  /**
   * Writes the object's bytes (all, or the inclusive range) into destination, resolving with the
   * count once destination has taken them all; rejects if destination closes first. Throws
   * NotFoundError when absent (before writing anything). Unlike read(), a driver may reuse its
   * buffers here, since it knows when destination is done with them.
   */
  copyTo(key: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number>;

  /** The whole content of a small object (links, state). Throws NotFoundError when absent. */
  getContent(key: string, signal?: AbortSignal): Promise<Buffer>;

  /** Replaces a small object atomically: readers see the old or the new content, never a part. */
  putContent(key: string, content: Buffer | string, signal?: AbortSignal): Promise<void>;

  /**
   * A writer for key. Plain writers replace the object atomically on commit(). With append,
   * bytes go after the object's current content (created empty if absent); after commit() they
   * are all visible, and after a failed write stat() tells how many landed.
   */
  writer(key: string, options?: { append?: boolean; signal?: AbortSignal }): Promise<DriverWriter>;

  /** Names of the direct children of prefix (objects and sub-prefixes), sorted. [] when absent. */
  list(prefix: string, options?: ListOptions): Promise<string[]>;

  /** Moves an object to a new key, replacing what is there, atomically. Throws NotFoundError when absent. */
  move(from: string, to: string, signal?: AbortSignal): Promise<void>;

  /** Deletes the object at key, or everything under key as a prefix. No error when absent. */
  delete(key: string, signal?: AbortSignal): Promise<void>;

  /**
   * The writer's half of the collection protocol (storage/liveness.ts): records that the object
   * at key is in use as of now and says whether it exists, in one step. A touch that returns true
   * is seen by a later setAside() of the object, whenever that move happens.
   */
  touch(key: string): Promise<boolean>;

  /**
   * The collector's half: moves the object at key to aside (replacing what is there) and answers
   * when it was last in use, the later of its last write and its last touch, counting every touch
   * that returned true before the object left key. Undefined when the object is absent.
   */
  setAside(key: string, aside: string): Promise<Date | undefined>;

  /** Checks the storage is reachable and usable (readiness, start-up). */
  check(): Promise<void>;

  /**
   * A URL from which a client may GET the object's bytes itself for expiresInSeconds (a presigned
   * S3 URL), for storage.redirect. Absent or undefined: the registry serves the bytes.
   */
  urlFor?(key: string, expiresInSeconds: number): Promise<string | undefined>;
}

const KEY_RE = /^[A-Za-z0-9._+=-]+(?:\/[A-Za-z0-9._+=-]+)*$/;

/** Every driver checks its keys once at the edge: relative, no "." or ".." segments, no odd bytes.
 *  layout.ts already validates; this is the second line that keeps a bug from escaping the root. */
export function assertKey(key: string): string {
  if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`refusing storage key ${JSON.stringify(key.slice(0, 200))}`);
  }
  return key;
}

/** copyTo for drivers with nothing better than read(): pipes the stream, counting bytes, and
 *  leaves destination open (the caller ends it). */
export async function copyByReading(
  driver: StorageDriver,
  key: string,
  destination: Writable,
  range?: ByteRange,
  signal?: AbortSignal,
): Promise<number> {
  const source = await driver.read(key, range, signal);
  let copied = 0;
  await pipeline(
    source,
    async function* count(chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        copied += chunk.length;
        yield chunk;
      }
    },
    destination,
    { end: false, signal },
  );
  return copied;
}
