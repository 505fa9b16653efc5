// What the S3 driver adds to the driver contract: an append travels to S3 as multipart parts while
// it streams (one part buffered at most), its state lives in the bucket so any process can stat,
// continue, read or move it, and nothing leaves the root directory. Real s3rver on 127.0.0.1.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Client } from 'minio';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { MIN_PART_SIZE } from '../../storage/drivers/s3/objects.js';
import { bucketSnapshot, startS3rver, type S3rverInstance } from '../helpers/s3rver.js';

const MiB = 1024 * 1024;
const PART = MIN_PART_SIZE;

/** Deterministic, non-repeating bytes: offset i of stream seed s is the same wherever it is cut. */
function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size + 3);
  let state = seed * 2654435761;
  for (let i = 0; i < size; i += 4) {
    state = (state * 1103515245 + 12345) >>> 0;
    out.writeUInt32LE(state, i);
  }
  return out.subarray(0, size);
}

function sha256(buffer: Buffer): string {
  return createHash('sha256').update(buffer).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  return Buffer.concat(await stream.toArray());
}

/** content in 256 KiB chunks, calling onChunk with the bytes handed out so far. */
function* chunks(content: Buffer, onChunk: (sent: number) => void = () => {}): Generator<Buffer> {
  for (let at = 0; at < content.length; at += 256 * 1024) {
    onChunk(Math.min(content.length, at + 256 * 1024));
    yield content.subarray(at, at + 256 * 1024);
  }
}

function chunked(content: Buffer, onChunk?: (sent: number) => void): Readable {
  return Readable.from(chunks(content, onChunk));
}

async function append(driver: StorageDriver, key: string, content: Buffer): Promise<void> {
  const writer = await driver.writer(key, { append: true });
  await pipeline(chunked(content), writer.stream);
  await writer.commit();
}

describe('S3 driver appends', () => {
  let s3: S3rverInstance;
  const root = 'reg';

  beforeEach(async () => {
    s3 = await startS3rver();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await s3.close();
  });

  /** Another process on the same bucket: a new driver shares nothing in memory with the first. */
  const replica = () => s3.driver({ rootdirectory: root });

  it('sends full parts while the stream still flows, with one part buffered at most', async () => {
    const partSizes: number[] = [];
    const sentAtPart: number[] = [];
    let sent = 0;
    const uploadPart = Client.prototype.uploadPart;
    vi.spyOn(Client.prototype, 'uploadPart').mockImplementation(function (this: Client, config, payload) {
      partSizes.push(Buffer.byteLength(payload as Buffer));
      sentAtPart.push(sent);
      return uploadPart.call(this, config, payload);
    });
    const content = bytes(2 * PART + 3 * MiB, 1);
    const writer = await replica().writer('uploads/u1/data', { append: true });
    await pipeline(
      chunked(content, (n) => (sent = n)),
      writer.stream,
    );
    await writer.commit();

    expect(partSizes).toEqual([PART, PART]);
    // Each part left before the source had handed over much more than one part's worth.
    expect(sentAtPart[0]).toBeLessThanOrEqual(PART + MiB);
    expect(sentAtPart[1]).toBeLessThanOrEqual(2 * PART + MiB);
    expect((await replica().stat('uploads/u1/data')).size).toBe(content.length);
    expect(sha256(await readAll(await replica().read('uploads/u1/data')))).toBe(sha256(content));
  });

  it('continues an append on another process, then reads, moves and appends again after the read', async () => {
    const pieces = [bytes(PART + 2 * MiB, 2), bytes(PART + 1 * MiB, 3), bytes(700 * 1024, 4), bytes(2 * MiB, 5)];
    const a = replica();
    const b = replica();
    await a.putContent('uploads/u2/data', Buffer.alloc(0));
    await append(a, 'uploads/u2/data', pieces[0]);
    expect((await b.stat('uploads/u2/data')).size).toBe(pieces[0].length);
    await append(b, 'uploads/u2/data', pieces[1]);
    await append(a, 'uploads/u2/data', pieces[2]);
    const sofar = Buffer.concat(pieces.slice(0, 3));
    expect((await a.stat('uploads/u2/data')).size).toBe(sofar.length);
    expect(sha256(await readAll(await b.read('uploads/u2/data')))).toBe(sha256(sofar));
    // The read sealed it into a plain object larger than a part; appending must still work.
    await append(a, 'uploads/u2/data', pieces[3]);
    const all = Buffer.concat(pieces);
    expect((await b.stat('uploads/u2/data')).size).toBe(all.length);
    await replica().move('uploads/u2/data', 'blobs/done');
    expect(sha256(await readAll(await b.read('blobs/done')))).toBe(sha256(all));
    await expect(a.stat('uploads/u2/data')).rejects.toThrow('not found');
    expect(await a.list('uploads/u2')).toEqual([]);
  });

  it('stores each small chunk once, as a tail segment, until enough gather for a part', async () => {
    let tailBytesPut = 0;
    const putObject = Client.prototype.putObject;
    vi.spyOn(Client.prototype, 'putObject').mockImplementation(function (this: Client, bucket: string, name: string, ...rest: unknown[]) {
      if (name.includes('~append/tail-')) tailBytesPut += Buffer.byteLength(rest[0] as Buffer);
      return (putObject as (...args: unknown[]) => ReturnType<Client['putObject']>).call(this, bucket, name, ...rest);
    });
    const chunks = Array.from({ length: 36 }, (_, i) => bytes(100 * 1024, 100 + i));
    for (const chunk of chunks) await append(replica(), 'small/data', chunk);
    const small = Buffer.concat(chunks);
    expect((await replica().stat('small/data')).size).toBe(small.length);
    // Rewriting the tail on every chunk would put about 18 times the bytes; segments put each once,
    // plus one merge when they reach 32.
    expect(tailBytesPut).toBeLessThan(2 * small.length);
    const more = bytes(PART, 200);
    await append(replica(), 'small/data', more);
    const all = Buffer.concat([small, more]);
    expect(sha256(await readAll(await replica().read('small/data')))).toBe(sha256(all));
  });

  it('finds an absent key with one request, and a plain object with one', async () => {
    const a = replica();
    await a.putContent('here', 'x');
    const requests: string[] = [];
    const makeRequest = (Client.prototype as unknown as { makeRequestAsync: (...args: unknown[]) => Promise<unknown> }).makeRequestAsync;
    vi.spyOn(Client.prototype as unknown as { makeRequestAsync: (...args: unknown[]) => Promise<unknown> }, 'makeRequestAsync').mockImplementation(
      function (this: Client, options: unknown, ...rest: unknown[]) {
        const { method, objectName } = options as { method: string; objectName?: string };
        requests.push(`${method} ${objectName}`);
        return makeRequest.call(this, options, ...rest);
      },
    );
    await expect(a.stat('missing/link')).rejects.toThrow('not found');
    await expect(a.getContent('missing/link')).rejects.toThrow('not found');
    await expect(a.read('missing/link')).rejects.toThrow('not found');
    expect((await a.stat('here')).size).toBe(1);
    expect(requests).toEqual([`HEAD ${root}/missing/link`, `GET ${root}/missing/link`, `GET ${root}/missing/link`, `HEAD ${root}/here`]);
  });

  it('reads a range of an append in progress', async () => {
    const content = bytes(PART + 100, 6);
    await append(replica(), 'k/data', content);
    const range = await readAll(await replica().read('k/data', { start: PART - 10, end: PART + 9 }));
    expect(range.equals(content.subarray(PART - 10, PART + 10))).toBe(true);
  });

  it('after a client dies mid-append, another process sees exactly the bytes that landed and goes on', async () => {
    const first = bytes(PART + 3 * MiB, 7);
    const a = replica();
    const writer = await a.writer('uploads/u3/data', { append: true });
    const dying = Readable.from(
      (function* () {
        yield* chunks(first);
        throw new Error('client went away');
      })(),
    );
    await expect(pipeline(dying, writer.stream)).rejects.toThrow('client went away');
    await writer.abort();
    const b = replica();
    const landed = (await b.stat('uploads/u3/data')).size;
    expect(landed).toBe(first.length);
    const rest = bytes(MiB, 8);
    await append(b, 'uploads/u3/data', rest);
    expect(sha256(await readAll(await replica().read('uploads/u3/data')))).toBe(sha256(Buffer.concat([first, rest])));
  });

  it('lists a key whose bytes are all still in an append by its marker, and hides the append state', async () => {
    const a = replica();
    await a.putContent('uploads/u4/startedat', 'now');
    await a.putContent('uploads/u4/data', Buffer.alloc(0));
    await append(a, 'uploads/u4/data', bytes(PART + 5, 9));
    // While the append is in progress an empty marker stands at the key; the bytes are below it.
    const marker = await s3.client().statObject(s3.bucket, `${root}/uploads/u4/data`);
    expect(marker.size).toBe(0);
    expect(marker.metaData['stowage-append']).toBe('1');
    expect((await a.stat('uploads/u4/data')).size).toBe(PART + 5);
    expect(await a.list('uploads/u4')).toEqual(['data', 'startedat']);
  });

  it('deletes an upload in progress whole: state, tail, and its multipart upload', async () => {
    const aborted: string[] = [];
    const abort = Client.prototype.abortMultipartUpload;
    vi.spyOn(Client.prototype, 'abortMultipartUpload').mockImplementation(function (this: Client, bucket, name, id) {
      aborted.push(name);
      return abort.call(this, bucket, name, id);
    });
    const a = replica();
    await append(a, 'uploads/u5/data', bytes(PART + MiB, 10));
    await a.putContent('uploads/u5/startedat', 'now');
    await a.putContent('uploads/u6/startedat', 'kept');
    await a.delete('uploads/u5');
    expect(aborted).toEqual([`${root}/uploads/u5/data`]);
    expect([...(await bucketSnapshot(s3.client(), s3.bucket)).keys()]).toEqual([`${root}/uploads/u6/startedat`]);
    await expect(a.stat('uploads/u5/data')).rejects.toThrow('not found');
  });

  it('keeps every object it writes under rootdirectory', async () => {
    const a = replica();
    await a.putContent('x/small', 'x');
    await append(a, 'x/appended', bytes(PART + 1, 11));
    const plain = await a.writer('x/plain');
    await pipeline(chunked(bytes(PART + 2, 12)), plain.stream);
    await plain.commit();
    await a.move('x/small', 'y/moved');
    const names = [...(await bucketSnapshot(s3.client(), s3.bucket)).keys()];
    expect(names.length).toBeGreaterThan(3);
    expect(names.filter((n) => !n.startsWith(`${root}/`))).toEqual([]);
  });
});
