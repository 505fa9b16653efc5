// Writing streams to S3, which has neither append nor rename. Bytes are gathered in one part-sized
// buffer and sent as a multipart part each time it fills, so a writer holds at most one part in
// memory whatever the blob's size. A plain writer completes its multipart upload on commit (S3
// makes the object visible whole, atomically). An append writer instead keeps its progress in the
// bucket (see AppendState in s3-objects.ts), so any replica, or this one after a restart, can stat,
// continue or seal the key; seal() turns that state into a plain object when someone reads it.
import { Writable } from 'node:stream';
import type { DriverWriter } from '../driver.js';
import { appendDir, newTailName, type AppendState, type S3Objects, type TailSegment, type UploadedPart } from './objects.js';

/** Past this many tail segments an append merges them into one (bounds the state and a seal's GETs). */
const MAX_TAIL_SEGMENTS = 32;

abstract class PartWriter implements DriverWriter {
  readonly stream: Writable;
  protected buffer: Buffer | undefined;
  protected fill = 0;
  protected uploadId: string | undefined;
  protected parts: UploadedPart[] = [];
  private pending: Promise<void> = Promise.resolve();

  constructor(
    protected readonly s3: S3Objects,
    protected readonly name: string,
    protected readonly partSize: number,
    private readonly signal?: AbortSignal,
  ) {
    this.stream = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.pending = this.accept(chunk);
        this.pending.then(() => callback(), callback);
      },
    });
  }

  abstract commit(): Promise<void>;
  abstract abort(): Promise<void>;

  /** Copies a chunk into the part buffer, sending a part each time it fills. */
  protected async accept(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      this.buffer ??= Buffer.allocUnsafe(this.partSize);
      const n = Math.min(this.partSize - this.fill, chunk.length - offset);
      chunk.copy(this.buffer, this.fill, offset, offset + n);
      this.fill += n;
      offset += n;
      if (this.fill === this.partSize) {
        this.signal?.throwIfAborted();
        await this.sendPart();
        this.fill = 0;
        await this.partSent();
      }
    }
  }

  /** Sends the buffered bytes as the next part (the caller knows whether they may be the last). */
  protected async sendPart(): Promise<void> {
    this.uploadId ??= await this.s3.initiate(this.name);
    this.parts.push(await this.s3.uploadPart(this.name, this.uploadId, this.parts.length + 1, this.buffered()));
  }

  protected async partSent(): Promise<void> {}

  protected buffered(): Buffer {
    return this.buffer ? this.buffer.subarray(0, this.fill) : Buffer.alloc(0);
  }

  /** Waits for the chunk in flight, if any (abort() may be called while a part is being sent). */
  protected async settled(): Promise<void> {
    await this.pending.catch(() => {});
  }
}

/** Replaces the object at name on commit; nothing is visible before. */
export class PlainWriter extends PartWriter {
  async commit(): Promise<void> {
    await this.settled();
    if (this.stream.errored) throw this.stream.errored;
    if (!this.uploadId) {
      await this.s3.put(this.name, this.buffered());
      return;
    }
    if (this.fill > 0) await this.sendPart();
    await this.s3.complete(this.name, this.uploadId, this.parts);
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await this.settled();
    if (this.uploadId) await this.s3.abortUpload(this.name, this.uploadId);
  }
}

/**
 * Appends after what the key holds. Its state is saved after every part and on commit or abort,
 * so stat() of the key from anywhere tells the bytes that landed, as a filesystem append would.
 */
export class AppendWriter extends PartWriter {
  private state: AppendState;
  /** Whether the append marker stands at the key (written by the first save). */
  private marked: boolean;
  /** True while the bytes of a base object go through the buffer (they are not new). */
  private carrying = false;
  private dirty = false;
  /** Saved tail segments not loaded into the buffer: they logically precede its bytes. */
  private remote: TailSegment[] = [];

  private constructor(s3: S3Objects, name: string, partSize: number, state: AppendState, signal?: AbortSignal) {
    super(s3, name, partSize, signal);
    this.state = state;
    this.uploadId = state.uploadId;
    this.parts = [...state.parts];
    this.marked = false;
  }

  /**
   * Opens an append on name. What stands at the key decides: the append marker means the state
   * holds the bytes; a plain object (an upload just started holds an empty one, and seal() leaves
   * one) becomes the start of a new append, any leftover state being stale: its bytes are fed
   * through the part buffer once (S3 cannot start a multipart upload from an existing object
   * without UploadPartCopy), so appending after a read of a large key rewrites it once.
   */
  static async open(s3: S3Objects, name: string, partSize: number, signal?: AbortSignal): Promise<AppendWriter> {
    const existing = await s3.stat(name);
    const state = existing?.appending ? await s3.loadState(name) : undefined;
    if (existing?.appending && !state) throw new Error(`append marker at ${name} without its state ${appendDir(name)}state`);
    const writer = new AppendWriter(s3, name, partSize, state ?? { parts: [], tail: [], modifiedAt: new Date().toISOString() }, signal);
    if (state) {
      writer.marked = true;
      // The saved tail stays in the bucket until a part fills (loadRemote) or a merge is due.
      writer.remote = [...state.tail];
    } else if (existing) {
      if (existing.size > 0) {
        const stream = await s3.stream(name);
        if (stream === undefined || stream === 'appending') throw new Error(`object ${name} changed while an append began`);
        writer.carrying = true;
        for await (const chunk of stream) await writer.accept(chunk as Buffer);
        writer.carrying = false;
      }
    } else {
      writer.dirty = true; // absent: the append creates it, even with no bytes
    }
    return writer;
  }

  protected override async accept(chunk: Buffer): Promise<void> {
    if (chunk.length > 0 && !this.carrying) this.dirty = true;
    if (this.remote.length > 0 && this.remoteSize() + this.fill + chunk.length >= this.partSize) await this.loadRemote();
    await super.accept(chunk);
  }

  private remoteSize(): number {
    return this.remote.reduce((sum, t) => sum + t.size, 0);
  }

  /** Puts the saved tail in front of the buffered bytes (together less than a part). */
  private async loadRemote(): Promise<void> {
    const saved = await this.s3.tailBytes(this.name, this.remote);
    this.buffer ??= Buffer.allocUnsafe(this.partSize);
    this.buffer.copy(this.buffer, saved.length, 0, this.fill);
    saved.copy(this.buffer, 0);
    this.fill += saved.length;
    this.remote = [];
  }

  protected override async partSent(): Promise<void> {
    // While a plain object is being carried over it still holds the truth; save once it is all in.
    if (!this.carrying) await this.save();
  }

  async commit(): Promise<void> {
    await this.settled();
    if (this.stream.errored) throw this.stream.errored;
    if (this.dirty) await this.save();
    else await this.dropUnsavedUpload();
  }

  /** Keeps what reached the writer (as a filesystem keeps bytes written before a failure). */
  async abort(): Promise<void> {
    this.stream.destroy();
    await this.settled();
    if (this.dirty && !this.carrying) await this.save();
    else await this.dropUnsavedUpload();
  }

  /** A multipart upload begun while carrying a base object over, then left with nothing new. */
  private async dropUnsavedUpload(): Promise<void> {
    if (this.uploadId && this.uploadId !== this.state.uploadId) await this.s3.abortUpload(this.name, this.uploadId);
  }

  /**
   * Writes the buffered bytes as a new tail segment, then the state naming it, then (the first
   * time) the marker over the key, then drops the old segments. Until the marker is written a
   * plain object at the key still wins, so a crash in between loses only unacknowledged bytes.
   */
  private async save(): Promise<void> {
    if (this.remote.length >= MAX_TAIL_SEGMENTS) await this.loadRemote();
    const tail = [...this.remote];
    if (this.fill > 0) {
      const segment = { name: newTailName(this.name), size: this.fill };
      await this.s3.put(segment.name, this.buffered());
      tail.push(segment);
    }
    const previous = this.state.tail;
    this.state = { uploadId: this.uploadId, parts: [...this.parts], tail, modifiedAt: new Date().toISOString() };
    await this.s3.saveState(this.name, this.state);
    const kept = new Set(tail.map((t) => t.name));
    const dropped = previous.filter((t) => !kept.has(t.name)).map((t) => t.name);
    if (!this.marked) {
      await this.s3.putMarker(this.name);
      this.marked = true;
    }
    if (dropped.length > 0) await this.s3.removeMany(dropped);
  }
}

/**
 * Turns the append in progress at name (its marker stands there) into a plain object: completes
 * the multipart upload with the tail as its last part, or puts the tail, over the marker; then
 * drops the state.
 */
export async function seal(s3: S3Objects, name: string): Promise<void> {
  const state = await s3.loadState(name);
  if (!state) throw new Error(`append marker at ${name} without its state ${appendDir(name)}state`);
  const tail = await s3.tailBytes(name, state.tail);
  if (state.uploadId && state.parts.length > 0) {
    const parts = [...state.parts];
    if (tail.length > 0) parts.push(await s3.uploadPart(name, state.uploadId, parts.length + 1, tail));
    await s3.complete(name, state.uploadId, parts);
  } else {
    if (state.uploadId) await s3.abortUpload(name, state.uploadId);
    await s3.put(name, tail);
  }
  await s3.removeMany(await s3.listAll(appendDir(name)));
}
