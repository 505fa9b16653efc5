// The referrers API (end-12a/12b): manifests with a subject answer OCI-Subject on push and are
// listed as an OCI index under the subject's digest, filtered by artifactType on request.
import { beforeEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { asBytes, putManifest } from '../helpers/registry-client.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { EMPTY_CONFIG, MEDIA, blobOf, ociArtifact, ociArtifactManifest, ociIndex, ociManifest, type Manifest } from '../helpers/content.js';

const SBOM = 'application/vnd.example.sbom.v1';
const SIGNATURE = 'application/vnd.example.signature.v1';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<Record<string, unknown>>;
}

async function referrers(reg: TestRegistry, name: string, digest: string, query = '') {
  const res = await asBytes(reg.request.get(`/v2/${name}/referrers/${digest}${query}`));
  expectAnswer(res, 200);
  expect(res.headers['content-type']).toBe(MEDIA.ociIndex);
  expect(res.headers['content-length']).toBe(String((res.body as Buffer).length));
  return { res, index: JSON.parse((res.body as Buffer).toString()) as ReferrersIndex };
}

function byDigest(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return String(a.digest) < String(b.digest) ? -1 : 1;
}

describe.each(DRIVERS)('referrers ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true });
  let ns: string;
  beforeEach(() => {
    ns = freshNamespace();
  });

  async function pushArtifacts(reg: TestRegistry) {
    const { manifest: subject } = await pushImage(reg, `${ns}/app`, 'v1');
    const sbomBlob = blobOf('{"sbom":true}');
    const sigBlob = blobOf('signature bytes');
    for (const blob of [EMPTY_CONFIG, sbomBlob, sigBlob]) await pushBlob(reg, `${ns}/app`, blob);
    const sbom = ociArtifact(SBOM, [sbomBlob], subject.descriptor, { 'org.example.kind': 'sbom' });
    const signature = ociArtifactManifest(SIGNATURE, [sigBlob], subject.descriptor);
    return { subject, sbom, signature };
  }

  it('answers a push of a manifest with a subject with 201 and OCI-Subject', async () => {
    const { subject, sbom } = await pushArtifacts(registry());
    const res = await putManifest(registry(), `${ns}/app`, sbom.digest, sbom.bytes, sbom.mediaType);
    expectAnswer(res, 201);
    expect(res.headers['oci-subject']).toBe(subject.digest);
    expect(res.headers['docker-content-digest']).toBe(sbom.digest);
  });

  it('accepts a manifest whose subject the registry does not hold', async () => {
    const { sbom } = await pushArtifacts(registry());
    const absent: Manifest = ociManifest(blobOf('{"never":"pushed"}'), []);
    const orphan = ociArtifact(SBOM, [], absent.descriptor);
    const res = await putManifest(registry(), `${ns}/app`, orphan.digest, orphan.bytes, orphan.mediaType);
    expectAnswer(res, 201);
    expect(res.headers['oci-subject']).toBe(absent.digest);
    const { index } = await referrers(registry(), `${ns}/app`, absent.digest);
    expect(index.manifests.map((m) => m.digest)).toEqual([orphan.digest]);
    void sbom;
  });

  it('lists every referrer as a descriptor with artifactType and annotations, in an OCI index', async () => {
    const { subject, sbom, signature } = await pushArtifacts(registry());
    await pushManifest(registry(), `${ns}/app`, sbom.digest, sbom);
    await pushManifest(registry(), `${ns}/app`, signature.digest, signature);
    const { res, index } = await referrers(registry(), `${ns}/app`, subject.digest);
    expect(res.headers['oci-filters-applied']).toBeUndefined();
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe(MEDIA.ociIndex);
    expect([...index.manifests].sort(byDigest)).toEqual(
      [
        { mediaType: MEDIA.ociManifest, digest: sbom.digest, size: sbom.size, artifactType: SBOM, annotations: { 'org.example.kind': 'sbom' } },
        { mediaType: MEDIA.ociArtifact, digest: signature.digest, size: signature.size, artifactType: SIGNATURE },
      ].sort(byDigest),
    );
  });

  it('uses the config media type as artifactType of an image manifest without one', async () => {
    const { subject } = await pushArtifacts(registry());
    const config = blobOf('{"custom":"config"}');
    await pushBlob(registry(), `${ns}/app`, config);
    const plain = ociManifest(config, [], { subject: subject.descriptor, configMediaType: 'application/vnd.example.config.v1+json' });
    await pushManifest(registry(), `${ns}/app`, plain.digest, plain);
    const { index } = await referrers(registry(), `${ns}/app`, subject.digest);
    expect(index.manifests).toEqual([
      { mediaType: MEDIA.ociManifest, digest: plain.digest, size: plain.size, artifactType: 'application/vnd.example.config.v1+json' },
    ]);
  });

  it('lists an index with a subject as a referrer', async () => {
    const { subject, sbom } = await pushArtifacts(registry());
    await pushManifest(registry(), `${ns}/app`, sbom.digest, sbom);
    const index = ociIndex([sbom], { subject: subject.descriptor, artifactType: 'application/vnd.example.bundle' });
    const res = await putManifest(registry(), `${ns}/app`, index.digest, index.bytes, index.mediaType);
    expect(res.headers['oci-subject']).toBe(subject.digest);
    const listed = await referrers(registry(), `${ns}/app`, subject.digest, '?artifactType=application/vnd.example.bundle');
    expect(listed.index.manifests.map((m) => m.digest)).toEqual([index.digest]);
  });

  it('filters by artifactType and says so in OCI-Filters-Applied', async () => {
    const { subject, sbom, signature } = await pushArtifacts(registry());
    await pushManifest(registry(), `${ns}/app`, sbom.digest, sbom);
    await pushManifest(registry(), `${ns}/app`, signature.digest, signature);
    const { res, index } = await referrers(registry(), `${ns}/app`, subject.digest, `?artifactType=${encodeURIComponent(SIGNATURE)}`);
    expect(res.headers['oci-filters-applied']).toBe('artifactType');
    expect(index.manifests.map((m) => m.digest)).toEqual([signature.digest]);
    const none = await referrers(registry(), `${ns}/app`, subject.digest, '?artifactType=application/vnd.example.none');
    expect(none.res.headers['oci-filters-applied']).toBe('artifactType');
    expect(none.index.manifests).toEqual([]);
  });

  it('answers an empty index for a subject nothing refers to', async () => {
    const { subject } = await pushArtifacts(registry());
    const { index } = await referrers(registry(), `${ns}/app`, subject.digest);
    expect(index).toEqual({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] });
    const unknown = await referrers(registry(), `${ns}/app`, blobOf('unknown subject').digest);
    expect(unknown.index.manifests).toEqual([]);
  });

  it('answers an empty index in a repository that does not exist', async () => {
    const { index } = await referrers(registry(), `${ns}/nothing`, blobOf('unknown subject').digest);
    expect(index.manifests).toEqual([]);
  });

  it('keeps referrers per repository', async () => {
    const { subject, sbom } = await pushArtifacts(registry());
    await pushManifest(registry(), `${ns}/app`, sbom.digest, sbom);
    const other = await referrers(registry(), `${ns}/other`, subject.digest);
    expect(other.index.manifests).toEqual([]);
  });

  it('answers 400 DIGEST_INVALID for a malformed subject digest', async () => {
    expectError(await registry().request.get(`/v2/${ns}/app/referrers/sha256:zzz`), 400, 'DIGEST_INVALID');
  });
});
