// The S3 bucket as the S3 driver sees it: object names (already prefixed by the root directory),
// the few S3 calls it makes, and the append state kept beside a key. Only calls that both AWS S3
// and MinIO provide are used, and of the multipart API only the low-level ones (s3rver, the test
// server, lacks ListMultipartUploads and UploadPartCopy, which minio's high-level putObject and
// composeObject reach for). Knows nothing of registry keys; storage/drivers/s3/s3-driver.ts maps those to names.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CopyDestinationOptions, CopySourceOptions, type Client } from 'minio';
import type { ByteRange } from '../driver.js';

/** S3's smallest part (except the last) and its largest part count. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** CopyObject copies at most 5 GiB in one request; larger objects are copied part by part. */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024;
const COPY_PART_SIZE = 1024 * 1024 * 1024;

/** Registry keys never contain "~" (driver.ts assertKey), so "<name>~append/..." cannot collide with a key. */
export const APPEND_MARK = '~append';
/** User metadata of the empty object that stands at a key while an append to it is in progress. */
const MARKER_META = 'stowage-append';

export interface UploadedPart {
  part: number;
  etag: string;
  size: number;
}

export interface TailSegment {
  name: string;
  size: number;
}

/**
 * An append in progress: full parts in a multipart upload, then the bytes after the last full
 * part (less than one part) as small segment objects, one per append that did not fill a part,
 * so a small chunk costs one small PUT instead of a rewrite of everything since the last part.
 */
export interface AppendState {
  uploadId?: string;
  parts: UploadedPart[];
  tail: TailSegment[];
  modifiedAt: string;
}

export function appendedSize(state: AppendState): number {
  return state.parts.reduce((sum, p) => sum + p.size, 0) + state.tail.reduce((sum, t) => sum + t.size, 0);
}

export function appendDir(name: string): string {
  return `${name}${APPEND_MARK}/`;
}

export function appendStateName(name: string): string {
  return `${appendDir(name)}state`;
}

export function newTailName(name: string): string {
  return `${appendDir(name)}tail-${randomBytes(8).toString('hex')}`;
}

const MISSING_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);

/** True for "no such object" answers (GET says NoSuchKey, HEAD has no body and says NotFound). */
export function isMissing(err: unknown): boolean {
  return MISSING_CODES.has((err as { code?: string } | undefined)?.code ?? '');
}

export class S3Objects {
  constructor(
    readonly client: Client,
    readonly bucket: string,
  ) {}

  /** What stands at name: nothing, a plain object, or the marker of an append in progress. */
  async stat(name: string): Promise<{ size: number; modifiedAt: Date; appending: boolean } | undefined> {
    try {
      const info = await this.client.statObject(this.bucket, name);
      return { size: info.size, modifiedAt: info.lastModified, appending: MARKER_META in (info.metaData ?? {}) };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * The object's bytes (all, or an inclusive range); undefined when there is no such object, and
   * 'appending' when an append marker stands there (its bytes are in the append state).
   */
  async stream(name: string, range?: ByteRange): Promise<Readable | 'appending' | undefined> {
    let stream: Readable;
    try {
      stream = range
        ? await this.client.getPartialObject(this.bucket, name, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.bucket, name);
    } catch (err) {
      if (isMissing(err)) return undefined;
      // A range of the empty marker is unsatisfiable; any range the layer above asks is checked.
      if ((err as { code?: string }).code === 'InvalidRange' && (await this.stat(name))?.appending) return 'appending';
      throw err;
    }
    if ((stream as Readable & { headers?: Record<string, string> }).headers?.[`x-amz-meta-${MARKER_META}`] !== undefined) {
      stream.destroy();
      return 'appending';
    }
    return stream;
  }

  /** Puts the append marker at name (replacing a plain object there). */
  async putMarker(name: string): Promise<void> {
    await this.client.putObject(this.bucket, name, Buffer.alloc(0), 0, { [MARKER_META]: '1' });
  }

  /** A small object's whole content, or undefined. */
  async bytes(name: string): Promise<Buffer | undefined> {
    const stream = await this.stream(name);
    if (stream === undefined || stream === 'appending') return undefined;
    return Buffer.concat(await stream.toArray());
  }

  /** One PUT: S3 makes it visible whole or not at all. */
  async put(name: string, content: Buffer): Promise<void> {
    await this.client.putObject(this.bucket, name, content, content.length);
  }

  async remove(name: string): Promise<void> {
    await this.client.removeObject(this.bucket, name);
  }

  async removeMany(names: string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 1000) {
      const batch = names.slice(i, i + 1000);
      if (batch.length === 1) {
        await this.remove(batch[0]);
        continue;
      }
      const results = await this.client.removeObjects(this.bucket, batch);
      const failed = results.find((r) => r?.Error && r.Error.Code !== 'NoSuchKey');
      if (failed?.Error) throw new Error(`S3 could not delete ${failed.Error.Key}: ${failed.Error.Code} ${failed.Error.Message ?? ''}`);
    }
  }

  /** Every object name under prefix, recursively. */
  async listAll(prefix: string): Promise<string[]> {
    const names: string[] = [];
    await this.eachPage(prefix, '', (items) => {
      for (const item of items) if (item.name) names.push(item.name);
    });
    return names;
  }

  /** Objects and common prefixes directly under prefix (names relative to it, prefixes without "/"). */
  async listChildren(prefix: string): Promise<string[]> {
    const children: string[] = [];
    await this.eachPage(prefix, '/', (items) => {
      for (const item of items) {
        const full = item.name ?? item.prefix;
        if (full) children.push(full.slice(prefix.length).replace(/\/$/, ''));
      }
    });
    return children;
  }

  private async eachPage(prefix: string, delimiter: string, visit: (items: { name?: string; prefix?: string }[]) => void): Promise<void> {
    let token = '';
    do {
      const page = await this.client.listObjectsV2Query(this.bucket, prefix, token, delimiter, 1000, '');
      visit(page.objects);
      token = page.isTruncated ? page.nextContinuationToken : '';
    } while (token);
  }

  /** Server-side copy; above 5 GiB part by part (UploadPartCopy, which AWS and MinIO have). */
  async copy(source: string, target: string, size: number): Promise<void> {
    if (size <= MAX_COPY_SIZE) {
      await this.client.copyObject(
        new CopySourceOptions({ Bucket: this.bucket, Object: source }),
        new CopyDestinationOptions({ Bucket: this.bucket, Object: target }),
      );
      return;
    }
    const uploadId = await this.initiate(target);
    try {
      const parts: UploadedPart[] = [];
      for (let start = 0; start < size; start += COPY_PART_SIZE) {
        const end = Math.min(size, start + COPY_PART_SIZE) - 1;
        const { etag } = await this.client.uploadPart({
          bucketName: this.bucket,
          objectName: target,
          uploadID: uploadId,
          partNumber: parts.length + 1,
          headers: {
            'x-amz-copy-source': `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
            'x-amz-copy-source-range': `bytes=${start}-${end}`,
          },
        });
        parts.push({ part: parts.length + 1, etag, size: end - start + 1 });
      }
      await this.complete(target, uploadId, parts);
    } catch (err) {
      await this.abortUpload(target, uploadId);
      throw err;
    }
  }

  async initiate(name: string): Promise<string> {
    return this.client.initiateNewMultipartUpload(this.bucket, name, { 'Content-Type': 'application/octet-stream' });
  }

  async uploadPart(name: string, uploadId: string, part: number, bytes: Buffer): Promise<UploadedPart> {
    if (part > MAX_PARTS) throw new Error(`object ${name} would need more than ${MAX_PARTS} parts (raise storage.s3.chunksize)`);
    const { etag } = await this.client.uploadPart(
      { bucketName: this.bucket, objectName: name, uploadID: uploadId, partNumber: part, headers: {} },
      bytes,
    );
    return { part, etag, size: bytes.length };
  }

  async complete(name: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    await this.client.completeMultipartUpload(
      this.bucket,
      name,
      uploadId,
      parts.map((p) => ({ part: p.part, etag: p.etag })),
    );
  }

  /** Frees an unfinished upload's parts. Best effort: a bucket lifecycle rule is the backstop. */
  async abortUpload(name: string, uploadId: string): Promise<void> {
    await this.client.abortMultipartUpload(this.bucket, name, uploadId).catch(() => {});
  }

  /** The tail segments' bytes, in order, checked against the sizes the state recorded. */
  async tailBytes(name: string, tail: TailSegment[]): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for (const segment of tail) {
      const bytes = await this.bytes(segment.name);
      if (!bytes || bytes.length !== segment.size) throw new Error(`append state of ${name} names a missing or changed tail ${segment.name}`);
      pieces.push(bytes);
    }
    return Buffer.concat(pieces);
  }

  async loadState(name: string): Promise<AppendState | undefined> {
    const bytes = await this.bytes(appendStateName(name));
    return bytes ? (JSON.parse(bytes.toString('utf8')) as AppendState) : undefined;
  }

  async saveState(name: string, state: AppendState): Promise<void> {
    await this.put(appendStateName(name), Buffer.from(JSON.stringify(state)));
  }
}
