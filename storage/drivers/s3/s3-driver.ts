// S3 driver (AWS S3, MinIO, any S3-compatible store) over the minio client. Keys are object names
// below the root directory. S3 has no rename and no append: move() is a server-side copy then a
// delete, and an append in progress lives in the bucket as a multipart upload plus a small state
// object beside the key (s3-writers.ts), so every replica sees the same upload:
//
//   <rootdirectory>/<key>                       the object stat()/read() return, or while an append
//                                               is in progress an empty marker (user metadata
//                                               stowage-append) saying the bytes are below
//   <rootdirectory>/<key>~append/state          JSON: upload id, parts (etag, size), tail segments
//   <rootdirectory>/<key>~append/tail-<random>  a segment of the bytes after the last full part
//
// So an absent key costs one request to find absent. Reading or moving a key with an append in
// progress first seals it into a plain object.
// Appends to one key must not run concurrently (the upload protocol sends chunks in order).
import type { Readable, Writable } from 'node:stream';
import { Client } from 'minio';
import { NotFoundError } from '../../errors.js';
import { assertKey, copyByReading, type ByteRange, type DriverWriter, type ObjectInfo, type StorageDriver } from '../driver.js';
import { MIN_PART_SIZE, S3Objects, appendDir, appendStateName, appendedSize } from './objects.js';
import { AppendWriter, PlainWriter, seal } from './writers.js';

export const DEFAULT_PART_SIZE = 10 * 1024 * 1024;

/** storage.s3 of the config file, in Distribution's shape. */
export interface S3Settings {
  regionendpoint?: string;
  region?: string;
  bucket: string;
  accesskey?: string;
  secretkey?: string;
  sessiontoken?: string;
  rootdirectory?: string;
  secure?: boolean;
  forcepathstyle?: boolean;
  chunksize?: number;
}

export interface S3DriverOptions {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
  pathStyle: boolean;
  /** Object name prefix, without leading or trailing "/"; "" for the bucket's root. */
  rootDirectory: string;
  partSize: number;
}

/**
 * Driver options from storage.s3 and the AWS environment variables (which fill in what the file
 * leaves out). Without regionendpoint the bucket is on AWS; an endpoint with a scheme decides TLS.
 */
export function s3DriverOptions(settings: S3Settings, env: NodeJS.ProcessEnv = process.env): S3DriverOptions {
  const accessKey = settings.accesskey ?? env.AWS_ACCESS_KEY_ID;
  const secretKey = settings.secretkey ?? env.AWS_SECRET_ACCESS_KEY;
  if (!accessKey || !secretKey) {
    throw new Error('storage.s3 needs credentials: accesskey and secretkey, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  const partSize = settings.chunksize ?? DEFAULT_PART_SIZE;
  if (partSize < MIN_PART_SIZE) throw new Error(`storage.s3.chunksize must be at least ${MIN_PART_SIZE} (5 MiB), S3's smallest part`);
  const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let endPoint = 's3.amazonaws.com';
  let port: number | undefined;
  let useSSL = settings.secure ?? true;
  if (settings.regionendpoint) {
    const hasScheme = /^https?:\/\//i.test(settings.regionendpoint);
    const url = new URL(hasScheme ? settings.regionendpoint : `${useSSL ? 'https' : 'http'}://${settings.regionendpoint}`);
    if (hasScheme) useSSL = url.protocol === 'https:';
    endPoint = url.hostname.replace(/^\[(.*)\]$/, '$1');
    port = url.port ? Number(url.port) : undefined;
  }
  return {
    endPoint,
    port,
    useSSL,
    region,
    bucket: settings.bucket,
    accessKey,
    secretKey,
    sessionToken: settings.sessiontoken ?? env.AWS_SESSION_TOKEN,
    // Distribution defaults to virtual-host style; MinIO and most self-hosted stores need paths.
    pathStyle: settings.forcepathstyle ?? settings.regionendpoint !== undefined,
    rootDirectory: (settings.rootdirectory ?? '').replace(/^\/+|\/+$/g, ''),
    partSize,
  };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPROTO']);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken']);
const CHECK_TIMEOUT_MS = 15_000;

export class S3Driver implements StorageDriver {
  readonly kind = 's3';
  // LastModified has whole seconds, and several S3 nodes may stamp it.
  readonly clockMarginMs = 2000;
  readonly shared = true;
  /** Where the objects are, for logs: s3://bucket/rootdirectory at the endpoint. */
  readonly root: string;
  private readonly s3: S3Objects;
  private readonly prefix: string;
  private readonly endpoint: string;

  constructor(private readonly options: S3DriverOptions) {
    const client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      region: options.region,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      sessionToken: options.sessionToken,
      pathStyle: options.pathStyle,
    });
    this.s3 = new S3Objects(client, options.bucket);
    this.prefix = options.rootDirectory ? `${options.rootDirectory}/` : '';
    this.endpoint = `${options.useSSL ? 'https' : 'http'}://${options.endPoint}${options.port ? `:${options.port}` : ''}`;
    this.root = `s3://${options.bucket}/${options.rootDirectory}`;
  }

  private objectName(key: string): string {
    return this.prefix + assertKey(key);
  }

  async stat(key: string): Promise<ObjectInfo> {
    const name = this.objectName(key);
    const info = await this.s3.stat(name);
    if (!info) throw new NotFoundError(key);
    if (!info.appending) return { size: info.size, modifiedAt: info.modifiedAt };
    const state = await this.s3.loadState(name);
    if (!state) throw new NotFoundError(key);
    return { size: appendedSize(state), modifiedAt: new Date(state.modifiedAt) };
  }

  copyTo(key: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number> {
    return copyByReading(this, key, destination, range, signal);
  }

  async read(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    signal?.throwIfAborted();
    const name = this.objectName(key);
    let stream = await this.s3.stream(name, range);
    if (stream === 'appending') {
      await seal(this.s3, name);
      stream = await this.s3.stream(name, range);
    }
    if (stream === undefined || stream === 'appending') throw new NotFoundError(key);
    if (signal) {
      const stop = () => stream.destroy(signal.reason as Error);
      signal.addEventListener('abort', stop, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', stop));
    }
    return stream;
  }

  async getContent(key: string, signal?: AbortSignal): Promise<Buffer> {
    return Buffer.concat(await (await this.read(key, undefined, signal)).toArray());
  }

  async putContent(key: string, content: Buffer | string): Promise<void> {
    await this.s3.put(this.objectName(key), typeof content === 'string' ? Buffer.from(content) : content);
  }

  async writer(key: string, options: { append?: boolean; signal?: AbortSignal } = {}): Promise<DriverWriter> {
    const name = this.objectName(key);
    if (options.append) return AppendWriter.open(this.s3, name, this.options.partSize, options.signal);
    return new PlainWriter(this.s3, name, this.options.partSize, options.signal);
  }

  async list(prefix: string): Promise<string[]> {
    const children = new Set<string>();
    for (const child of await this.s3.listChildren(`${this.objectName(prefix)}/`)) {
      // "<key>~append/" holds an append's state; the key itself is listed by its marker.
      if (child && !child.includes('~')) children.add(child);
    }
    return [...children].sort();
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.objectName(from);
    const target = this.objectName(to);
    let info = await this.s3.stat(source);
    if (info?.appending) {
      await seal(this.s3, source);
      info = await this.s3.stat(source);
    }
    if (!info || info.appending) throw new NotFoundError(from);
    // One CopyObject copies up to 5 GiB; S3Objects.copy goes part by part (UploadPartCopy) above that.
    await this.s3.copy(source, target, info.size);
    await this.s3.remove(source);
  }

  async delete(key: string): Promise<void> {
    const name = this.objectName(key);
    const names = [name, usedMarker(name), ...(await this.s3.listAll(`${name}/`)), ...(await this.s3.listAll(appendDir(name)))];
    // Appends in progress hold multipart uploads whose parts are billed until aborted.
    const stateSuffix = appendStateName('');
    for (const stateName of names.filter((n) => n.endsWith(stateSuffix))) {
      const owner = stateName.slice(0, -stateSuffix.length);
      const state = await this.s3.loadState(owner).catch(() => undefined);
      if (state?.uploadId) await this.s3.abortUpload(owner, state.uploadId);
    }
    await this.s3.removeMany(names);
  }

  // S3 has no cheap way to change an object's time, so a touch is a small marker object beside
  // it ("<key>~used"; list() hides names with "~"). The writer writes the marker, then looks
  // for the object; setAside() removes the object, then reads the marker: whichever runs second
  // sees the other's write, as S3 reads are strongly consistent.
  async touch(key: string): Promise<boolean> {
    const name = this.objectName(key);
    await this.s3.put(usedMarker(name), Buffer.alloc(0));
    return (await this.s3.stat(name)) !== undefined;
  }

  async setAside(key: string, aside: string): Promise<Date | undefined> {
    const source = this.objectName(key);
    const info = await this.s3.stat(source);
    if (!info || info.appending) return undefined;
    await this.s3.copy(source, this.objectName(aside), info.size);
    await this.s3.remove(source);
    const marker = await this.s3.stat(usedMarker(source));
    // Only touches that found the object count, and those landed before it left: the marker can go.
    if (marker) await this.s3.remove(usedMarker(source));
    return marker && marker.modifiedAt > info.modifiedAt ? marker.modifiedAt : info.modifiedAt;
  }

  /** A presigned GET URL (storage.redirect); the client fetches the bytes from the bucket itself. */
  async urlFor(key: string, expiresInSeconds: number): Promise<string> {
    return this.s3.client.presignedGetObject(this.options.bucket, this.objectName(key), expiresInSeconds);
  }

  /** Says plainly what is wrong: an endpoint that does not answer, credentials it refuses, no bucket. */
  async check(): Promise<void> {
    const { bucket } = this.options;
    let exists: boolean;
    try {
      exists = await withTimeout(this.s3.client.bucketExists(bucket), CHECK_TIMEOUT_MS);
    } catch (err) {
      throw new Error(this.describeFailure(err), { cause: err });
    }
    if (!exists) {
      throw new Error(
        `S3 bucket "${bucket}" does not exist at ${this.endpoint}: create it first (MinIO: mc mb <alias>/${bucket}; AWS: aws s3 mb s3://${bucket})`,
      );
    }
  }

  private describeFailure(err: unknown): string {
    const code = (err as { code?: string } | undefined)?.code ?? '';
    const message = (err as Error | undefined)?.message ?? String(err);
    if (NETWORK_CODES.has(code) || code === 'TIMEOUT' || /certificate|ssl|tls/i.test(message)) {
      return `cannot reach S3 endpoint ${this.endpoint} (${code || message}): check storage.s3.regionendpoint and secure`;
    }
    if (CREDENTIAL_CODES.has(code)) {
      return `S3 endpoint ${this.endpoint} refused the credentials for bucket "${this.options.bucket}" (${code}): check storage.s3.accesskey and secretkey (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)`;
    }
    return `S3 check of bucket "${this.options.bucket}" at ${this.endpoint} failed: ${code ? `${code}: ` : ''}${message}`;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000}s`), { code: 'TIMEOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The marker a touch leaves beside an object (storage/liveness.ts). */
function usedMarker(name: string): string {
  return `${name}~used`;
}
