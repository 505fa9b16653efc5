// A real S3 HTTP server for tests: s3rver on 127.0.0.1, an ephemeral port and a temp directory,
// started by the test that needs it and stopped by it. If it cannot start, the test fails.
// Also the S3 row of the driver table (helpers/drivers.ts): one fresh server per backend.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import * as fsp from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'minio';
import { MIN_PART_SIZE } from '../../storage/s3-objects.js';
import { S3Driver, s3DriverOptions, type S3Settings } from '../../storage/s3.js';
import type { DriverBackend, DriverFactory } from './drivers.js';

interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: http.Server;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverClass;

// s3rver 3.7 is looser than S3 in ways that make a correct client fail; tests need S3's own
// semantics, so these few store methods are replaced (AWS S3 and MinIO behave as patched):
// - a delimited listing stops one level below the prefix, so "p/a/b/x" never yields "p/a/";
// - PUT answers before the bytes are on disk and writes in place, so a reader can see a part;
//   CopyObject too writes in place;
// - a one-byte range "bytes=0-0" returns the whole object (end 0 is taken as absent);
// - DeleteObjects deletes in parallel and each delete prunes empty parent directories, so two
//   keys of one directory race and one answers 500.
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable | null;
  metadata: Record<string, unknown>;
  range?: { start: number; end: number };
}
interface ListResult {
  objects: { key: string }[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface FilesystemStore {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5?: string): Promise<void>;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  listObjects(bucket: string, options: { delimiter?: string; prefix?: string; startAfter?: string; maxKeys?: number }): Promise<ListResult>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<StoredObject | null>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  getBucketPath(bucket: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacementMetadata?: Record<string, unknown>): Promise<Record<string, unknown>>;
}
const store = (require('s3rver/lib/stores/filesystem.js') as { prototype: FilesystemStore }).prototype;

/** A temp file inside the server's directory (same filesystem, so rename is atomic). */
async function tempFile(self: FilesystemStore): Promise<string> {
  const dir = path.join(self.rootDirectory, '.stowage-tmp');
  await fsp.mkdir(dir, { recursive: true });
  return path.join(dir, randomBytes(8).toString('hex'));
}

/** rename into place; s3rver prunes empty directories on delete, so a parent may vanish meanwhile. */
async function renameIntoPlace(temp: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.rename(temp, target);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

const listAll = store.listObjects;
store.listObjects = async function listObjects(bucket, options) {
  if (!options.delimiter) return listAll.call(this, bucket, options);
  const all = await listAll.call(this, bucket, { ...options, delimiter: undefined, maxKeys: Infinity });
  const prefix = options.prefix ?? '';
  const prefixes = new Set<string>();
  const objects = all.objects.filter((object) => {
    const at = object.key.slice(prefix.length).indexOf(options.delimiter!);
    if (at === -1) return true;
    prefixes.add(object.key.slice(0, prefix.length + at + 1));
    return false;
  });
  return { objects, commonPrefixes: [...prefixes].sort(), isTruncated: false };
};

store.putObject = async function putObject(object) {
  const target = this.getResourcePath(object.bucket, object.key, 'object');
  const temp = await tempFile(this);
  const md5 = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : (object.content ?? Readable.from([]));
  await pipeline(
    source,
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    createWriteStream(temp),
  );
  const digest = md5.digest('hex');
  await renameIntoPlace(temp, target);
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

const copyInPlace = store.copyObject;
store.copyObject = async function copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  if (srcBucket === destBucket && srcKey === destKey) return copyInPlace.call(this, srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  const temp = await tempFile(this);
  await fsp.copyFile(this.getResourcePath(srcBucket, srcKey, 'object'), temp);
  await renameIntoPlace(temp, this.getResourcePath(destBucket, destKey, 'object'));
  if (replacementMetadata) {
    await this.putMetadata(destBucket, destKey, replacementMetadata);
  } else {
    for (const resource of ['metadata.json', 'object.md5']) {
      await fsp.copyFile(this.getResourcePath(srcBucket, srcKey, resource), this.getResourcePath(destBucket, destKey, resource)).catch(() => {});
    }
  }
  return this.getMetadata(destBucket, destKey);
};

store.deleteObject = async function deleteObject(bucket, key) {
  for (const resource of ['object', 'object.md5', 'metadata.json']) await fsp.rm(this.getResourcePath(bucket, key, resource), { force: true });
  const parts = key.split('/').slice(0, -1);
  for (; parts.length > 0; parts.pop()) {
    // Stops at the first directory that is not empty (or already gone).
    if (!(await fsp.rmdir(path.join(this.getBucketPath(bucket), ...parts)).then(() => true, () => false))) break;
  }
};

const getObject = store.getObject;
store.getObject = async function getObjectWithRange(bucket, key, options) {
  const object = await getObject.call(this, bucket, key, options);
  if (object?.content instanceof Readable && options?.end === 0 && (options.start ?? 0) === 0) {
    object.content.destroy();
    object.content = createReadStream(this.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
    object.range = { start: 0, end: 0 };
  }
  return object;
};

export const TEST_BUCKET = 'stowage';
/** s3rver's built-in account. */
export const TEST_ACCESS_KEY = 'S3RVER';
export const TEST_SECRET_KEY = 'S3RVER';

export interface S3rverInstance {
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  /** storage.s3 settings for this server (test credentials, path style, small parts). */
  settings(overrides?: Partial<S3Settings>): S3Settings;
  driver(overrides?: Partial<S3Settings>): S3Driver;
  /** A plain minio client on the server, to look at the bucket from outside the driver. */
  client(): Client;
  close(): Promise<void>;
}

export async function startS3rver(options: { buckets?: string[] } = { buckets: [TEST_BUCKET] }): Promise<S3rverInstance> {
  const directory = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    await fsp.rm(directory, { recursive: true, force: true });
    throw new Error(`s3rver did not start: ${(err as Error).message}`, { cause: err });
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const settings = (overrides: Partial<S3Settings> = {}): S3Settings => ({
    regionendpoint: endpoint,
    region: 'us-east-1',
    bucket: TEST_BUCKET,
    accesskey: TEST_ACCESS_KEY,
    secretkey: TEST_SECRET_KEY,
    forcepathstyle: true,
    chunksize: MIN_PART_SIZE,
    ...overrides,
  });
  return {
    endpoint,
    port: address.port,
    bucket: TEST_BUCKET,
    directory,
    settings,
    driver: (overrides) => new S3Driver(s3DriverOptions(settings(overrides), {})),
    client: () =>
      new Client({ endPoint: '127.0.0.1', port: address.port, useSSL: false, region: 'us-east-1', accessKey: TEST_ACCESS_KEY, secretKey: TEST_SECRET_KEY, pathStyle: true }),
    async close() {
      const closing = server.close();
      server.httpServer?.closeAllConnections();
      await closing;
      await fsp.rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Every object in the bucket as name -> its ETag and size, from one listing. The ETag is the MD5
 * of the content here (s3rver, with the PUT above), so a changed object shows as changed.
 */
export async function bucketSnapshot(client: Client, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const item of client.listObjectsV2(bucket, '', true)) {
    if (item.name) out.set(item.name, `${item.etag}:${item.size}`);
  }
  return out;
}

/** The S3 row: a fresh s3rver per backend, the driver's root one level down in the bucket. */
export const s3DriverFactory: DriverFactory = {
  name: 's3',
  async create(): Promise<DriverBackend> {
    const server = await startS3rver();
    const rootdirectory = `root-${randomBytes(4).toString('hex')}`;
    const client = server.client();
    return {
      root: `s3://${server.bucket}/${rootdirectory}`,
      driver: () => server.driver({ rootdirectory }),
      snapshot: () => bucketSnapshot(client, server.bucket),
      cleanup: () => server.close(),
    };
  },
};
