// A real S3 HTTP server for tests: s3rver on 127.0.0.1, an ephemeral port and a temp directory,
// started by the test that needs it and stopped by it. If it cannot start, the test fails.
// Also the S3 row of the driver table (helpers/drivers.ts): one fresh server per backend.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fsp from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'minio';
import { MIN_PART_SIZE } from '../../storage/drivers/s3/objects.js';
import { S3Driver, s3DriverOptions, type S3Settings } from '../../storage/drivers/s3/s3-driver.js';
import type { DriverBackend, DriverFactory } from './driver-backend.js';

interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: http.Server;
  logger: { close(): void };
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
// s3rver with the fixes that give it S3's semantics where 3.7 is looser (see the module).
const { S3rver } = createRequire(import.meta.url)('./s3rver-fixes.cjs') as { S3rver: S3rverClass };

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
  // s3rver closes its (silent) logger when its server closes; a request still finishing then
  // makes winston warn "Attempt to write logs with no transports" on stderr. Keep it open.
  server.logger.close = () => {};
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
      new Client({
        endPoint: '127.0.0.1',
        port: address.port,
        useSSL: false,
        region: 'us-east-1',
        accessKey: TEST_ACCESS_KEY,
        secretKey: TEST_SECRET_KEY,
        pathStyle: true,
      }),
    async close() {
      const closing = server.close();
      server.httpServer?.closeAllConnections();
      await closing;
      // A request cut off mid-body (the upload-abort tests) can still be writing its file when
      // the server has closed: rm retries on ENOTEMPTY rather than fail the cleanup.
      await fsp.rm(directory, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
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
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-test-'));
    const server = await startS3rver().catch(async (err: unknown) => {
      await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    });
    const rootdirectory = `root-${randomBytes(4).toString('hex')}`;
    const client = server.client();
    return {
      root: `s3://${server.bucket}/${rootdirectory}`,
      dir,
      config: { s3: server.settings({ rootdirectory }) },
      driver: () => server.driver({ rootdirectory }),
      snapshot: () => bucketSnapshot(client, server.bucket),
      async cleanup() {
        await server.close();
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  },
};
