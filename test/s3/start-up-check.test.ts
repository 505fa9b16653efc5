// Start-up on S3 says plainly what is wrong: an endpoint that does not answer, credentials the
// endpoint refuses, a bucket that does not exist. Each case against a real s3rver on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { openStorage } from '../../server/open-storage.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('S3 start-up check', () => {
  let s3: S3rverInstance;

  beforeAll(async () => {
    s3 = await startS3rver();
  });

  afterAll(async () => {
    await s3.close();
  });

  it('passes on a reachable endpoint with good credentials and an existing bucket', async () => {
    await expect(s3.driver().check()).resolves.toBeUndefined();
  });

  it('names the endpoint when nothing answers there', async () => {
    const port = await closedPort();
    const driver = s3.driver({ regionendpoint: `http://127.0.0.1:${port}` });
    await expect(driver.check()).rejects.toThrow(`cannot reach S3 endpoint http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('says the credentials were refused', async () => {
    const driver = s3.driver({ accesskey: 'NOT-A-KEY', secretkey: 'wrong' });
    await expect(driver.check()).rejects.toThrow(/refused the credentials for bucket "stowage" \(\w+\): check storage\.s3\.accesskey/);
  });

  it('says the bucket is missing, and how to create it', async () => {
    const driver = s3.driver({ bucket: 'no-such-bucket' });
    await expect(driver.check()).rejects.toThrow(`S3 bucket "no-such-bucket" does not exist at ${s3.endpoint}: create it first`);
  });

  it('stops the storage from opening with the same message', async () => {
    const config = configFrom({ storage: { s3: s3.settings({ bucket: 'missing' }) } });
    await expect(openStorage(config)).rejects.toThrow('S3 bucket "missing" does not exist');
  });

  it('opens a registry on the bucket, writing the layout version under rootdirectory', async () => {
    const config = configFrom({ storage: { s3: s3.settings({ rootdirectory: '/registry/' }) } });
    const storage = await openStorage(config);
    expect(storage.driver.kind).toBe('s3');
    const names: string[] = [];
    for await (const item of s3.client().listObjectsV2(s3.bucket, '', true)) if (item.name) names.push(item.name);
    expect(names).toContain('registry/layout-version');
  });
});
