// Manifests built to hurt the parser and whatever walks the parsed document: deep nesting and huge
// arrays within the 4 MiB limit, wrong shapes, and bodies over the limit. Each answer comes fast,
// is never a 500, and a refused manifest leaves the store as it was.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { rawRequest } from '../helpers/registry-client.js';
import { pushBlob, pushImage, type PushedImage } from '../helpers/images.js';
import { MEDIA, blobOf, type Descriptor } from '../helpers/content.js';

const config = blobOf('{"architecture":"amd64","os":"linux"}');
const configDescriptor = { mediaType: MEDIA.ociConfig, digest: config.digest, size: config.size };
/** A generous bound for one answer on a slow CI machine; a bomb that worked would take far longer or crash. */
const ANSWER_MS = 10_000;

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

function imageManifest(extra: string): Buffer {
  return Buffer.from(`{"schemaVersion":2,"mediaType":"${MEDIA.ociManifest}","config":${JSON.stringify(configDescriptor)},"layers":[]${extra}}`);
}

function layerDescriptor(i: number) {
  return { mediaType: MEDIA.ociLayer, digest: `sha256:${i.toString(16).padStart(64, '0')}`, size: 1 };
}

describe.each(DRIVERS)('JSON bombs in manifests ($name)', (factory) => {
  const registry = useTestRegistry(factory);
  let subject: PushedImage;
  let before: Map<string, string>;

  beforeEach(async () => {
    subject = await pushImage(registry(), 'library/app', 'v1');
    await pushBlob(registry(), 'library/app', config);
    before = await registry().backend.snapshot();
  });

  async function put(reference: string, body: Buffer, contentType: string = MEDIA.ociManifest) {
    const started = Date.now();
    const res = await rawRequest(registry().port, 'PUT', `/v2/library/app/manifests/${reference}`, {
      headers: { 'Content-Type': contentType, 'Content-Length': String(body.length) },
      chunks: [body],
    });
    expect(Date.now() - started, `PUT ${reference} of ${body.length} bytes took too long`).toBeLessThan(ANSWER_MS);
    return res;
  }

  describe('refused, leaving the store as it was', () => {
    afterEach(async () => {
      expect(await registry().backend.snapshot()).toEqual(before);
      // The registry still answers.
      expectAnswer(await rawRequest(registry().port, 'GET', `/v2/library/app/referrers/${subject.manifest.digest}`), 200);
    });

    it('annotations nested 100,000 deep on a referrer (400 MANIFEST_INVALID)', async () => {
      const body = imageManifest(`,"subject":${JSON.stringify(subject.manifest.descriptor)},"annotations":{"a":${nested(100_000)}}`);
      expectError(await put('deep-annotations', body), 400, 'MANIFEST_INVALID');
    });

    it('annotations nested 1,000,000 deep, 2 MB (400 MANIFEST_INVALID)', async () => {
      const body = imageManifest(`,"annotations":{"a":${nested(1_000_000)}}`);
      expect(body.length).toBeLessThan(4 * 1024 * 1024);
      expectError(await put('deeper', body), 400, 'MANIFEST_INVALID');
    });

    it('a descriptor whose annotations hold no strings (400 MANIFEST_INVALID)', async () => {
      const layer = { ...layerDescriptor(1), annotations: { a: { b: [1, 2, 3] } } };
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDescriptor, layers: [layer] }));
      expectError(await put('layer-annotations', body), 400, 'MANIFEST_INVALID');
    });

    it('an index entry whose platform nests 100,000 deep (400 MANIFEST_INVALID)', async () => {
      const child = JSON.stringify(subject.manifest.descriptor).slice(0, -1);
      const body = Buffer.from(`{"schemaVersion":2,"mediaType":"${MEDIA.ociIndex}","manifests":[${child},"platform":{"os":${nested(100_000)}}}]}`);
      expectError(await put('deep-platform', body, MEDIA.ociIndex), 400, 'MANIFEST_INVALID');
    });

    it('a document that is only nesting (400 MANIFEST_INVALID)', async () => {
      expectError(await put('only-nesting', Buffer.from(nested(2_000_000))), 400, 'MANIFEST_INVALID');
    });

    it('an unterminated nesting (400 MANIFEST_INVALID)', async () => {
      expectError(await put('unterminated', Buffer.from(`{"a":${'['.repeat(3_000_000)}`)), 400, 'MANIFEST_INVALID');
    });

    it('25,000 layers nobody pushed (400 MANIFEST_BLOB_UNKNOWN, with a bounded detail)', async () => {
      const layers = Array.from({ length: 25_000 }, (_, i) => layerDescriptor(i + 1));
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDescriptor, layers }));
      expect(body.length).toBeLessThan(4 * 1024 * 1024);
      const res = await put('wide', body);
      expectError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
      expect(res.body.length).toBeLessThan(64 * 1024);
    });

    it('an index of 25,000 children nobody pushed (400 MANIFEST_BLOB_UNKNOWN)', async () => {
      const manifests = Array.from({ length: 25_000 }, (_, i) => ({ ...layerDescriptor(i + 1), mediaType: MEDIA.ociManifest }));
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
      expectError(await put('wide-index', body, MEDIA.ociIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it.each([
      ['layers as an object', { layers: { 0: layerDescriptor(1) } }],
      ['config as an array', { config: [configDescriptor] }],
      ['a size beyond 2^53', { config: { ...configDescriptor, size: 1e300 } }],
      ['a negative size', { config: { ...configDescriptor, size: -1 } }],
      ['a descriptor that is a string', { layers: ['sha256:abc'] }],
      ['schemaVersion as a string', { schemaVersion: '2' }],
    ])('%s (400 MANIFEST_INVALID)', async (_what, change) => {
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDescriptor, layers: [], ...change }));
      expectError(await put('wrong-shape', body), 400, 'MANIFEST_INVALID');
    });

    it('a body over 4 MiB without Content-Length (413 SIZE_INVALID)', async () => {
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const res = await rawRequest(registry().port, 'PUT', '/v2/library/app/manifests/huge', {
        headers: { 'Content-Type': MEDIA.ociManifest },
        chunks: [Buffer.from('{"a":"'), chunk, chunk, chunk, chunk, chunk, Buffer.from('"}')],
      });
      expectError(res, 413, 'SIZE_INVALID');
    });
  });

  describe('accepted when valid, with bounded effort', () => {
    it('2,000,000 numbers in a field nobody reads are stored and served as pushed', async () => {
      const body = imageManifest(`,"x":[${Array(2_000_000).fill('1').join(',')}]`);
      expect(body.length).toBeLessThan(4 * 1024 * 1024);
      expectAnswer(await put('numbers', body), 201);
      const back = await rawRequest(registry().port, 'GET', '/v2/library/app/manifests/numbers', { headers: { Accept: MEDIA.ociManifest } });
      expectAnswer(back, 200);
      expect(back.body.equals(body)).toBe(true);
    });

    it('one layer named 20,000 times is checked once', async () => {
      const layers: Descriptor[] = Array.from({ length: 20_000 }, () => ({ ...configDescriptor, mediaType: MEDIA.ociLayer }));
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDescriptor, layers }));
      expectAnswer(await put('same-layer', body), 201);
    });
  });
});
