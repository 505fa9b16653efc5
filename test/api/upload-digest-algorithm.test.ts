// ?digest-algorithm= on starting an upload (distribution-spec end-4c): the running hash computes
// what the client will finish with, so a sha512 upload in chunks finishes without reading its
// bytes back; an algorithm the registry cannot verify is refused before a session exists.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { blobOf, randomBlob } from '../helpers/content.js';
import { locationPath, sendBytes } from '../helpers/registry-client.js';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { UploadStore } from '../../storage/uploads.js';
import { uploadDataKey } from '../../storage/layout.js';

/** Counts reads of upload data objects (a finish that re-hashes reads the upload back). */
function countingReads(driver: StorageDriver): { driver: StorageDriver; reads: string[] } {
  const reads: string[] = [];
  const wrapped = Object.create(driver) as StorageDriver;
  wrapped.read = (key, ...rest) => {
    reads.push(key);
    return driver.read(key, ...rest);
  };
  return { driver: wrapped, reads };
}

describe.each(DRIVERS)('digest-algorithm on upload start ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('pushes a sha512 blob in chunks and serves it by its sha512 digest', async () => {
    const reg = registry();
    const bytes = randomBlob(9000, 71).bytes;
    const blob = blobOf(bytes, 'sha512');
    const started = await reg.request.post('/v2/team/app/blobs/uploads/?digest-algorithm=sha512').set('Content-Length', '0');
    expect(started.status).toBe(202);
    let location = locationPath(started.headers.location);
    for (const [from, to] of [
      [0, 4000],
      [4000, 9000],
    ]) {
      const chunk = await sendBytes(
        reg.request
          .patch(location)
          .set('Content-Type', 'application/octet-stream')
          .set('Content-Range', `${from}-${to - 1}`),
        bytes.subarray(from, to),
      );
      expect(chunk.status).toBe(202);
      location = locationPath(chunk.headers.location);
    }
    const done = await reg.request.put(`${location}${location.includes('?') ? '&' : '?'}digest=${blob.digest}`);
    expect(done.status).toBe(201);
    expect(done.headers['docker-content-digest']).toBe(blob.digest);
    const got = await reg.request.get(`/v2/team/app/blobs/${blob.digest}`).buffer(true);
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.body as Buffer, bytes)).toBe(0);
  });

  it('finishes a sha512 upload from its running hash, without reading the bytes back', async () => {
    const { storage } = registry();
    const counted = countingReads(storage.driver);
    const uploads = new UploadStore(counted.driver, storage.blobs);
    const blob = blobOf(randomBlob(7000, 72).bytes, 'sha512');
    const asked = await uploads.start('team/app', 'sha512');
    await uploads.append('team/app', asked.id, Readable.from([blob.bytes.subarray(0, 3000)]));
    expect(await uploads.finish('team/app', asked.id, blob.digest, Readable.from([blob.bytes.subarray(3000)]))).toEqual({
      digest: blob.digest,
      size: blob.size,
    });
    expect(counted.reads.filter((key) => key === uploadDataKey('team/app', asked.id))).toEqual([]);
    // Not asked for: sha256 runs, and a sha512 finish must read the bytes back to verify them.
    const unasked = await uploads.start('team/app');
    await uploads.append('team/app', unasked.id, Readable.from([blob.bytes]));
    expect(await uploads.finish('team/app', unasked.id, blob.digest)).toEqual({ digest: blob.digest, size: blob.size });
    expect(counted.reads.filter((key) => key === uploadDataKey('team/app', unasked.id))).toHaveLength(1);
  });

  it('refuses an algorithm it cannot verify with DIGEST_INVALID and starts no session', async () => {
    const reg = registry();
    for (const algorithm of ['md5', 'SHA256', 'sha384', '']) {
      const res = await reg.request.post(`/v2/team/app/blobs/uploads/?digest-algorithm=${algorithm}`).set('Content-Length', '0');
      expect(res.status, algorithm).toBe(400);
      expect(res.body.errors[0].code).toBe('DIGEST_INVALID');
    }
    expect(await reg.storage.catalog.repositories()).toEqual([]);
    expect(reg.storage.uploads.runningHashes).toBe(0);
  });
});
