// Revision links of both layouts (storage/revision-link.ts): stowage's JSON and registry:2's bare
// digest, whose media type comes from the manifest bytes as Distribution takes it.
import { describe, expect, it } from 'vitest';
import { decodeRevision, encodeRevision, mediaTypeOfBytes } from '../../storage/revision-link.js';
import { MEDIA, blobOf, dockerManifest, ociIndex, ociManifest } from '../helpers/content.js';

const config = blobOf('{"os":"linux"}');
const layer = blobOf('layer');
const DIGEST = `sha256:${'a'.repeat(64)}`;

function withoutMediaType(bytes: Buffer): Buffer {
  const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  delete doc.mediaType;
  return Buffer.from(JSON.stringify(doc));
}

describe('revision links', () => {
  it('reads both forms, and refuses anything else as a SyntaxError', () => {
    expect(decodeRevision(Buffer.from(JSON.stringify({ digest: DIGEST, mediaType: MEDIA.ociManifest, size: 3, subject: DIGEST })))).toEqual({
      digest: DIGEST,
      mediaType: MEDIA.ociManifest,
      subject: DIGEST,
    });
    expect(decodeRevision(Buffer.from(`${DIGEST}\n`))).toEqual({ digest: DIGEST });
    expect(() => decodeRevision(Buffer.from('not a digest'))).toThrow(SyntaxError);
    expect(() => decodeRevision(Buffer.from('{"digest": 1}'))).toThrow(SyntaxError);
  });

  it('takes the media type from the bytes as Distribution does: their field, else index or image by shape', () => {
    const image = ociManifest(config, [layer]);
    const index = ociIndex([image]);
    expect(mediaTypeOfBytes(dockerManifest(config, [layer]).bytes)).toBe(MEDIA.dockerManifest);
    expect(mediaTypeOfBytes(withoutMediaType(image.bytes))).toBe(MEDIA.ociManifest);
    expect(mediaTypeOfBytes(withoutMediaType(index.bytes))).toBe(MEDIA.ociIndex);
    expect(mediaTypeOfBytes(Buffer.from('[1]'))).toBeUndefined();
    expect(mediaTypeOfBytes(Buffer.from('{'))).toBeUndefined();
  });

  it("writes registry:2's bare digest in a registry:2 tree unless the bytes would say another media type", () => {
    const image = ociManifest(config, [layer]);
    const record = { digest: image.digest, mediaType: MEDIA.ociManifest, size: image.size };
    expect(encodeRevision(record, image.bytes, 'distribution')).toBe(image.digest);
    expect(encodeRevision(record, withoutMediaType(image.bytes), 'distribution')).toBe(image.digest);
    expect(JSON.parse(encodeRevision(record, image.bytes, 'stowage'))).toEqual(record);
    // A Docker manifest pushed without its mediaType field: only the JSON form keeps its type.
    const docker = { ...record, mediaType: MEDIA.dockerManifest };
    expect(JSON.parse(encodeRevision(docker, withoutMediaType(image.bytes), 'distribution'))).toEqual(docker);
  });
});
