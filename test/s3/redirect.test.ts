// storage.redirect (Distribution's redirect middleware): with `disable: false`, a blob GET answers
// 307 to a presigned URL of the bucket, so the bytes flow from storage; HEAD, and every answer
// with redirects off (the default) or on a driver without such URLs, come from stowage itself.
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { existingStore } from '../helpers/drivers.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { startTestRegistry } from '../helpers/test-registry.js';

const content = Buffer.from('layer bytes served straight from the bucket '.repeat(1000));
const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;

async function serve(driver: StorageDriver, redirect: Record<string, unknown> | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const store = existingStore({ root: driver.kind, driver: () => driver, config: {} });
  const reg = await startTestRegistry(store, { config: { storage: { ...(redirect ? { redirect } : {}) } } });
  const url = reg.url;
  const pushed = await fetch(`${url}/v2/team/app/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: content,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  expect(pushed.status).toBe(201);
  return { url, close: () => reg.cleanup() };
}

describe('storage.redirect', () => {
  let s3: S3rverInstance;
  let registry: { url: string; close(): Promise<void> } | undefined;

  beforeEach(async () => {
    s3 = await startS3rver();
  });

  afterEach(async () => {
    await registry?.close();
    registry = undefined;
    await s3.close();
  });

  it('answers a blob GET with 307 to a presigned URL that serves the bytes, whole or a range', async () => {
    registry = await serve(s3.driver({ rootdirectory: 'r' }), { disable: false });
    const answer = await fetch(`${registry.url}/v2/team/app/blobs/${digest}`, { redirect: 'manual' });
    expect(answer.status).toBe(307);
    expect(answer.headers.get('docker-content-digest')).toBe(digest);
    const location = answer.headers.get('location')!;
    expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/r/blobs/sha256/`)).toBe(true);
    expect(location).toContain('X-Amz-Signature=');
    expect(location).toContain('X-Amz-Expires=1200');

    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(Buffer.from(await direct.arrayBuffer()).equals(content)).toBe(true);
    const ranged = await fetch(location, { headers: { Range: 'bytes=6-10' } });
    expect(ranged.status).toBe(206);
    expect(await ranged.text()).toBe(content.subarray(6, 11).toString());
    // A client that follows redirects gets the blob as if stowage had sent it.
    const followed = await fetch(`${registry.url}/v2/team/app/blobs/${digest}`);
    expect(Buffer.from(await followed.arrayBuffer()).equals(content)).toBe(true);
  });

  it('answers HEAD itself, and still checks the repository link before redirecting', async () => {
    registry = await serve(s3.driver({ rootdirectory: 'r' }), { disable: false });
    const head = await fetch(`${registry.url}/v2/team/app/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(content.length));
    const elsewhere = await fetch(`${registry.url}/v2/other/repo/blobs/${digest}`, { redirect: 'manual' });
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { errors: { code: string }[] }).errors[0].code).toBe('BLOB_UNKNOWN');
  });

  it('is off by default: stowage serves the bytes', async () => {
    registry = await serve(s3.driver({ rootdirectory: 'r' }), undefined);
    const answer = await fetch(`${registry.url}/v2/team/app/blobs/${digest}`, { redirect: 'manual' });
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer()).equals(content)).toBe(true);
  });

  it('serves the bytes itself on a driver that has no URLs to hand out', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-redirect-'));
    try {
      registry = await serve(new FilesystemDriver(dir), { disable: false });
      const answer = await fetch(`${registry.url}/v2/team/app/blobs/${digest}`, { redirect: 'manual' });
      expect(answer.status).toBe(200);
      expect(Buffer.from(await answer.arrayBuffer()).equals(content)).toBe(true);
    } finally {
      await registry?.close();
      registry = undefined;
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
