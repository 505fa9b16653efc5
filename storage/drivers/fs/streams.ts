// The filesystem driver's byte paths, built for throughput on small machines:
// - copyFileTo: file -> writable through two reused buffers; the next read overlaps the previous
//   write, and a buffer is refilled only after the socket has taken its bytes.
// - CoalescingFileWriter: socket chunks (64 KiB or less) are gathered into one reused 256 KiB
//   buffer and written with one call per buffer, instead of one thread-pool round trip per chunk.
import type * as fsp from 'node:fs/promises';
import { Writable } from 'node:stream';
import { transferBuffers } from '../../buffer-pool.js';

function writeChunk(destination: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (destination.destroyed) {
      reject(Object.assign(new Error('destination closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      return;
    }
    destination.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** Copies length bytes from position of an open file to destination; resolves with the count. */
export async function copyFileTo(
  handle: fsp.FileHandle,
  destination: Writable,
  position: number,
  length: number,
  signal?: AbortSignal,
): Promise<number> {
  const buffers = [transferBuffers.take(), transferBuffers.take()];
  let inFlight: Promise<void> | undefined;
  let copied = 0;
  const closed = new Promise<never>((_, reject) => {
    const onClose = () => reject(Object.assign(new Error('destination closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    destination.once('close', onClose);
  });
  closed.catch(() => {});
  try {
    for (let i = 0; copied < length; i++) {
      signal?.throwIfAborted();
      const buffer = buffers[i % 2];
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - copied), position + copied);
      if (bytesRead === 0) throw new Error(`file ended after ${copied} of ${length} bytes`);
      // The other buffer's write must finish before this one is handed over: the reader refills
      // a buffer only after the destination is done with it.
      if (inFlight) await Promise.race([inFlight, closed]);
      inFlight = writeChunk(destination, buffer.subarray(0, bytesRead));
      // Awaited below; this only keeps a write that fails while we race `closed` from going unhandled.
      inFlight.catch(() => {});
      copied += bytesRead;
    }
    if (inFlight) await Promise.race([inFlight, closed]);
    return copied;
  } finally {
    // A write still in flight (the destination failed) keeps its buffer: let the GC have it.
    if (!inFlight || copied >= length) buffers.forEach((b) => transferBuffers.give(b));
  }
}

export class CoalescingFileWriter extends Writable {
  // 256 KiB: large enough that a 64 MiB blob is 256 writes, small enough that a thousand
  // concurrent uploads do not hold a gigabyte of buffers.
  private buffer: Buffer | undefined = transferBuffers.take();
  private used = 0;
  private closing: Promise<void> | undefined;
  /** Bytes written to the file so far. */
  written = 0;

  /** beforeClose runs once every byte is written, before the file is closed (to sync it). */
  constructor(
    private readonly handle: fsp.FileHandle,
    private readonly beforeClose?: () => Promise<void>,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  private async flush(): Promise<void> {
    let offset = 0;
    while (offset < this.used) {
      // Positionless writes: the file is opened for append, or fresh and written in order.
      const { bytesWritten } = await this.handle.write(this.buffer!, offset, this.used - offset);
      offset += bytesWritten;
    }
    this.written += this.used;
    this.used = 0;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    void (async () => {
      let offset = 0;
      while (offset < chunk.length) {
        const n = chunk.copy(this.buffer!, this.used, offset);
        this.used += n;
        offset += n;
        if (this.used === this.buffer!.length) await this.flush();
      }
    })().then(() => callback(), callback);
  }

  private close(): Promise<void> {
    this.closing ??= this.handle.close();
    return this.closing;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush()
      .then(() => this.beforeClose?.())
      .then(() => this.close())
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.buffer) transferBuffers.give(this.buffer);
    this.buffer = undefined;
    this.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}
