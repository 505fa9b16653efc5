// Reused transfer buffers. Writing to fresh memory costs a page fault per 4 KiB, which caps a
// transfer that allocates a new Buffer per chunk near 200 MB/s on the machines we measured; blob
// copies therefore borrow fixed-size buffers from here and give them back when done.

export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    /** Buffers kept when returned; more are dropped for the garbage collector. */
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buffer: Buffer): void {
    if (buffer.length === this.size && this.free.length < this.keep) this.free.push(buffer);
  }
}

/** 256 KiB buffers for copies between files and sockets, and for gathering upload chunks. */
export const transferBuffers = new BufferPool(256 * 1024, 64);
