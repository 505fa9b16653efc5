// A full disk: every write the driver attempts fails with ENOSPC (or EDQUOT), as the filesystem
// driver reports it. Writes are answered 507 with the spec's JSON body and one log line, not a
// 500 with a stack per request; pulls keep working; nothing stored before changes; once space
// is freed, pushes work again. The disk is a wrapper over the filesystem driver that fails
// writes on demand, so no real disk has to fill.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { DriverWriter, StorageDriver } from '../../storage/drivers/driver.js';
import { createLogger } from '../../server/logger.js';
import { filesystemDriverFactory, type DriverFactory } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { blobOf, ociManifest, randomBlob } from '../helpers/content.js';
import { asBytes, putManifest, startUpload } from '../helpers/registry-client.js';
import { pushBlob, pushImage } from '../helpers/images.js';
import { expectError } from '../helpers/expect-answer.js';

const disk = { full: false, code: 'ENOSPC' };

function noSpace(syscall: string): NodeJS.ErrnoException {
  const message = disk.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
  return Object.assign(new Error(`${disk.code}: ${message}, ${syscall}`), { code: disk.code, errno: disk.code === 'EDQUOT' ? -122 : -28, syscall });
}

/** The driver, with putContent and writer streams failing while disk.full is set. */
function fillable(inner: StorageDriver): StorageDriver {
  const putContent: StorageDriver['putContent'] = async (key, content, signal) => {
    if (disk.full) throw noSpace('write');
    return inner.putContent(key, content, signal);
  };
  const writer: StorageDriver['writer'] = async (key, options): Promise<DriverWriter> => {
    const opened = await inner.writer(key, options);
    const stream = new Writable({
      write(chunk: Buffer, encoding, callback) {
        if (disk.full) callback(noSpace('write'));
        else opened.stream.write(chunk, encoding, callback);
      },
      final(callback) {
        opened.stream.end(callback);
      },
      destroy(err, callback) {
        opened.stream.destroy();
        callback(err);
      },
    });
    return { stream, commit: () => opened.commit(), abort: () => opened.abort() };
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'putContent') return putContent;
      if (property === 'writer') return writer;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const fillableFilesystem: DriverFactory = {
  name: 'filesystem that fills up',
  async create() {
    const backend = await filesystemDriverFactory.create();
    return { ...backend, driver: () => fillable(backend.driver()) };
  },
};

const logs: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  },
});

/** What the store holds outside upload sessions: blobs, links, tags, revisions. */
async function committed(snapshot: Promise<Map<string, string>>): Promise<Array<[string, string]>> {
  return [...(await snapshot)].filter(([key]) => !key.includes('/_uploads/'));
}

describe.each(['ENOSPC', 'EDQUOT'])('a full disk (%s)', (code) => {
  const registry = useTestRegistry(fillableFilesystem, { config: { log: { level: 'info' } }, logger: createLogger('info', sink) });
  afterEach(() => {
    disk.full = false;
    logs.length = 0;
  });

  it('answers writes 507 with the JSON error, keeps serving pulls, changes nothing stored, and recovers', async () => {
    const reg = registry();
    disk.code = code;
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 5 });
    const [layer] = image.layers;
    const session = await startUpload(reg, 'team/app');
    const otherConfig = blobOf('{"architecture":"arm64","os":"linux"}');
    await pushBlob(reg, 'team/app', otherConfig);
    const before = await committed(reg.backend.snapshot());

    disk.full = true;
    const blob = randomBlob(300 * 1024, 6);
    const monolithic = await reg.request
      .post(`/v2/team/app/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expectError(monolithic, 507, 'UNAVAILABLE');
    expect(monolithic.body.errors[0].detail).toEqual({ reason: code === 'EDQUOT' ? 'quota exceeded' : 'no space left on device' });
    expectError(await reg.request.patch(session).set('Content-Type', 'application/octet-stream').send(blob.bytes), 507, 'UNAVAILABLE');
    expectError(await reg.request.post('/v2/team/app/blobs/uploads/'), 507, 'UNAVAILABLE');
    // The same layer again: what is stored must not be touched by a failed rewrite.
    const again = await reg.request
      .post(`/v2/team/app/blobs/uploads/?digest=${layer.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(layer.bytes);
    expect([201, 507]).toContain(again.status);
    const other = ociManifest(otherConfig, [layer]);
    expectError(await putManifest(reg, 'team/app', 'v2', other.bytes, other.mediaType), 507, 'UNAVAILABLE');

    // Pulls, from storage rather than the cache.
    reg.storage.cache.clear();
    const manifest = await asBytes(reg.request.get('/v2/team/app/manifests/v1').set('Accept', image.manifest.mediaType));
    expect(manifest.status).toBe(200);
    expect((manifest.body as Buffer).equals(image.manifest.bytes)).toBe(true);
    const pulled = await asBytes(reg.request.get(`/v2/team/app/blobs/${layer.digest}`));
    expect(pulled.status).toBe(200);
    expect((pulled.body as Buffer).equals(layer.bytes)).toBe(true);
    expect((await reg.request.head(`/v2/team/app/blobs/${blob.digest}`)).status).toBe(404);
    expect(await committed(reg.backend.snapshot())).toEqual(before);

    // One line per refusal, at error (an operator must free space), with no stack.
    const full = logs.filter((l) => l.reason === 'storage_full');
    expect(full.length).toBeGreaterThanOrEqual(4);
    for (const line of full) expect(line).toMatchObject({ level: 50, status: 507, code: 'UNAVAILABLE' });
    expect(logs.filter((l) => l.err !== undefined)).toEqual([]);
    const metrics = (await reg.request.get('/metrics')).text;
    expect(metrics).toMatch(/^stowage_requests_refused_total\{reason="storage_full"\} [4-9]$/m);

    disk.full = false;
    const retried = await reg.request
      .post(`/v2/team/app/blobs/uploads/?digest=${blob.digest}`)
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    expect(retried.status, retried.text).toBe(201);
    expect((await putManifest(reg, 'team/app', 'v2', other.bytes, other.mediaType)).status).toBe(201);
  });
});
