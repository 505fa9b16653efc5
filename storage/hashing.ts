// Hashing while bytes stream: a pass-through stage that feeds a digest and counts bytes, so a
// blob is verified in the same pass that writes it and never held in memory.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from './grammar.js';

export class HashingStage extends Transform {
  readonly hash: Hash;
  bytes = 0;

  constructor(hash: Hash = createHash('sha256')) {
    super({ highWaterMark: 256 * 1024 });
    this.hash = hash;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** The digest string ("sha256:<hex>") of a hash, without finalising it. */
export function digestOf(hash: Hash, algorithm: DigestAlgorithm): string {
  return `${algorithm}:${hash.copy().digest('hex')}`;
}

export function digestOfBytes(bytes: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Hashes a whole stream (used when an upload's running hash was lost, e.g. after a restart). */
export async function digestOfStream(source: Readable, algorithm: DigestAlgorithm): Promise<{ digest: string; size: number }> {
  const stage = new HashingStage(createHash(algorithm));
  await pipeline(source, stage, async function drain(chunks: AsyncIterable<Buffer>) {
    for await (const _ of chunks) void _;
  });
  return { digest: `${algorithm}:${stage.hash.digest('hex')}`, size: stage.bytes };
}
