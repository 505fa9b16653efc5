// The content the official suite pushes, built as its setup.go init() builds it (conformance/setup.go
// and image.go at opencontainers/distribution-spec b5f09eb / 3ec8a56): one config and one image
// manifest per workflow (unique through a random author), the gzip layer, the empty-layer manifest,
// the streamed and chunked blobs, and the referrers artifacts (A/B by config media type and by
// artifactType, C with a subject never pushed, and an index with a subject).
// Documents are serialised like Go's json.MarshalIndent(v, "", "\t"): struct field order,
// omitempty fields dropped, []byte as base64, a nil []byte without omitempty as null.
import { createHash, randomInt } from 'node:crypto';
import type { SuiteOptions } from './suite-env.js';

export interface TestBlob {
  content: Buffer;
  contentLength: string;
  digest: string;
}

/** A descriptor as conformance/image.go declares it; Data and NewUnspecifiedField are []byte. */
export interface GoDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: Buffer;
  artifactType?: string;
  newUnspecifiedField?: Buffer;
}

export interface GoManifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: GoDescriptor;
  layers: GoDescriptor[];
  subject?: GoDescriptor;
  annotations?: Record<string, string>;
}

export interface GoIndex {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  manifests: GoDescriptor[];
  subject?: GoDescriptor;
  annotations?: Record<string, string>;
}

export const TEST_TAG_NAME = 'tagtest0';
export const EMPTY_LAYER_TEST_TAG = 'emptylayer';
export const ARTIFACT_TYPE_FILTER = 'artifactType';
export const ERROR_CODES_KNOWN_TO_SUITE = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

// echo 'you bothered to find out what was in here. Congratulations!' > test.txt; tar czvf; base64
const LAYER_BASE64 =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function goDescriptor(d: GoDescriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls && d.urls.length > 0) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = sortedMap(d.annotations);
  if (d.data && d.data.length > 0) out.data = d.data.toString('base64');
  if (d.artifactType) out.artifactType = d.artifactType;
  out.newUnspecifiedField = d.newUnspecifiedField ? d.newUnspecifiedField.toString('base64') : null;
  return out;
}

/** Go marshals maps with sorted keys. */
function sortedMap(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function marshalIndent(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, '\t'));
}

export function marshalManifest(m: GoManifest): Buffer {
  const out: Record<string, unknown> = { schemaVersion: m.schemaVersion };
  if (m.mediaType) out.mediaType = m.mediaType;
  if (m.artifactType) out.artifactType = m.artifactType;
  out.config = goDescriptor(m.config);
  out.layers = m.layers.map(goDescriptor);
  if (m.subject) out.subject = goDescriptor(m.subject);
  if (m.annotations && Object.keys(m.annotations).length > 0) out.annotations = sortedMap(m.annotations);
  return marshalIndent(out);
}

export function marshalIndex(i: GoIndex): Buffer {
  const out: Record<string, unknown> = { schemaVersion: i.schemaVersion };
  if (i.mediaType) out.mediaType = i.mediaType;
  if (i.artifactType) out.artifactType = i.artifactType;
  out.manifests = i.manifests.map(goDescriptor);
  if (i.subject) out.subject = goDescriptor(i.subject);
  if (i.annotations && Object.keys(i.annotations).length > 0) out.annotations = sortedMap(i.annotations);
  return marshalIndent(out);
}

/** setup.go randomString: crypto-random characters from its alphabet. */
function randomString(n: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  let out = '';
  for (let i = 0; i < n; i++) out += letters[randomInt(letters.length)];
  return out;
}

/**
 * setup.go randomBlob: bytes reproducible from a seed. Go uses math/rand; the bytes themselves do
 * not matter to any check, only that the same seed gives the same blob.
 */
export function randomBlob(size: number, seed: number): { digest: string; blob: Buffer } {
  let state = seed >>> 0;
  const blob = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    blob[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return { digest: sha256(blob), blob };
}

function testBlob(content: Buffer, digest = sha256(content)): TestBlob {
  return { content, contentLength: String(content.length), digest };
}

export interface ChunkedBlob {
  blob: Buffer;
  digest: string;
  chunk1: Buffer;
  chunk1Length: string;
  chunk1Range: string;
  chunk2: Buffer;
  chunk2Length: string;
  chunk2Range: string;
}

/** setup.go setupChunkedBlob: the blob split after size/2+1 bytes, with the two Content-Range values. */
export function setupChunkedBlob(size: number, seed: number): ChunkedBlob {
  const { digest, blob } = randomBlob(size, seed + 2);
  const cut = Math.floor(size / 2) + 1;
  const chunk1 = blob.subarray(0, cut);
  const chunk2 = blob.subarray(cut);
  return {
    blob,
    digest,
    chunk1,
    chunk1Length: String(chunk1.length),
    chunk1Range: `0-${chunk1.length - 1}`,
    chunk2,
    chunk2Length: String(chunk2.length),
    chunk2Range: `${chunk1.length}-${blob.length - 1}`,
  };
}

export interface TestData {
  seed: number;
  configs: TestBlob[];
  manifests: TestBlob[];
  layerBlobData: Buffer;
  layerBlobDigest: string;
  layerBlobContentLength: string;
  emptyLayerManifestContent: Buffer;
  emptyLayerManifestDigest: string;
  nonexistentManifest: string;
  invalidManifestContent: Buffer;
  testBlobA: Buffer;
  testBlobALength: string;
  testBlobADigest: string;
  chunked: ChunkedBlob;
  emptyJSONBlob: Buffer;
  emptyJSONDescriptor: GoDescriptor;
  testRefBlobA: Buffer;
  testRefBlobALength: string;
  testRefBlobADigest: string;
  testRefArtifactTypeA: string;
  testRefBlobB: Buffer;
  testRefBlobBLength: string;
  testRefBlobBDigest: string;
  testRefArtifactTypeB: string;
  testRefArtifactTypeIndex: string;
  testAnnotationKey: string;
  /** Referrer digest -> its annotation value. */
  testAnnotationValues: Record<string, string>;
  refsManifestAConfigArtifactContent: Buffer;
  refsManifestAConfigArtifactDigest: string;
  refsManifestBConfigArtifactContent: Buffer;
  refsManifestBConfigArtifactDigest: string;
  refsManifestALayerArtifactContent: Buffer;
  refsManifestALayerArtifactDigest: string;
  refsManifestBLayerArtifactContent: Buffer;
  refsManifestBLayerArtifactDigest: string;
  refsManifestCLayerArtifactContent: Buffer;
  refsManifestCLayerArtifactDigest: string;
  refsIndexArtifactContent: Buffer;
  refsIndexArtifactDigest: string;
  dummyDigest: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** Builds everything setup.go's init() builds. seed stands for GinkgoRandomSeed(). */
export function makeTestData(options: SuiteOptions, seed: number): TestData {
  // Go: const ( pull = 1 << iota; push; contentDiscovery; contentManagement; numWorkflows ) makes
  // numWorkflows = 1 << 4 = 16, so the suite builds 16 configs and manifests; the checks use 0..4.
  const numWorkflows = 1 << 4;
  const configs: TestBlob[] = [];
  for (let i = 0; i < numWorkflows; i++) {
    const config = {
      author: randomString(16),
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] as string[] },
    };
    const content = marshalIndent(config);
    configs.push(testBlob(content, options.blobDigest ?? sha256(content)));
  }

  const layerBlobData = Buffer.from(LAYER_BASE64, 'base64');
  const layerBlobDigest = sha256(layerBlobData);
  const layers: GoDescriptor[] = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: layerBlobData.length, digest: layerBlobDigest }];

  const manifests: TestBlob[] = [];
  for (let i = 0; i < numWorkflows; i++) {
    const content = marshalManifest({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: OCI_CONFIG,
        digest: configs[i].digest,
        size: configs[i].content.length,
        data: configs[i].content, // must be the config content.
        newUnspecifiedField: Buffer.from('hello world'), // content doesn't matter.
      },
      layers,
    });
    manifests.push(testBlob(content, options.manifestDigest ?? sha256(content)));
  }

  // used in push test: no mediaType field, no layers
  const emptyLayerManifestContent = marshalManifest({
    schemaVersion: 2,
    config: {
      mediaType: OCI_CONFIG,
      digest: configs[1].digest,
      size: configs[1].content.length,
      data: configs[1].content,
      newUnspecifiedField: Buffer.from('hello world'),
    },
    layers: [],
  });

  const testBlobA = randomBlob(42, seed + 1);
  const emptyJSONBlob = Buffer.from('{}');
  const emptyJSONDescriptor: GoDescriptor = {
    mediaType: 'application/vnd.oci.empty.v1+json',
    size: emptyJSONBlob.length,
    digest: sha256(emptyJSONBlob),
  };

  const testRefBlobA = Buffer.from('NHL Peanut Butter on my NHL bagel');
  const testRefArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
  const testRefBlobB = Buffer.from('NBA Strawberry Jam on my NBA croissant');
  const testRefArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
  const testAnnotationKey = 'org.opencontainers.conformance.test';
  const testAnnotationValues: Record<string, string> = {};

  const subjectOf = (m: TestBlob): GoDescriptor => ({ mediaType: OCI_MANIFEST, size: m.content.length, digest: sha256(m.content) });

  const referrer = (m: GoManifest): { content: Buffer; digest: string } => {
    const content = marshalManifest(m);
    const digest = sha256(content);
    if (m.annotations) testAnnotationValues[digest] = m.annotations[testAnnotationKey];
    return { content, digest };
  };

  // artifact with Subject ref using config.MediaType = artifactType
  const refsA = referrer({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: testRefArtifactTypeA, size: testRefBlobA.length, digest: sha256(testRefBlobA) },
    subject: subjectOf(manifests[4]),
    layers: [emptyJSONDescriptor],
    annotations: { [testAnnotationKey]: 'test config a' },
  });
  const refsB = referrer({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: testRefArtifactTypeB, size: testRefBlobB.length, digest: sha256(testRefBlobB) },
    subject: subjectOf(manifests[4]),
    layers: [emptyJSONDescriptor],
    annotations: { [testAnnotationKey]: 'test config b' },
  });
  // artifact with Subject ref using ArtifactType, config.MediaType = emptyJSON
  const refsALayer = referrer({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: testRefArtifactTypeA,
    config: emptyJSONDescriptor,
    subject: subjectOf(manifests[4]),
    layers: [{ mediaType: testRefArtifactTypeA, size: testRefBlobA.length, digest: sha256(testRefBlobA) }],
    annotations: { [testAnnotationKey]: 'test layer a' },
  });
  const refsBLayer = referrer({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: testRefArtifactTypeB,
    config: emptyJSONDescriptor,
    subject: subjectOf(manifests[4]),
    layers: [{ mediaType: testRefArtifactTypeB, size: testRefBlobB.length, digest: sha256(testRefBlobB) }],
    annotations: { [testAnnotationKey]: 'test layer b' },
  });
  // ManifestCLayerArtifact is the same as B but based on a subject that has not been pushed
  const refsCLayer = referrer({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: testRefArtifactTypeB,
    config: emptyJSONDescriptor,
    subject: subjectOf(manifests[3]),
    layers: [{ mediaType: testRefArtifactTypeB, size: testRefBlobB.length, digest: sha256(testRefBlobB) }],
  });

  const testRefArtifactTypeIndex = 'application/vnd.food.stand';
  const refsIndexArtifactContent = marshalIndex({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    artifactType: testRefArtifactTypeIndex,
    manifests: [
      { mediaType: OCI_MANIFEST, size: refsA.content.length, digest: refsA.digest },
      { mediaType: OCI_MANIFEST, size: refsALayer.content.length, digest: refsALayer.digest },
    ],
    subject: subjectOf(manifests[4]),
    annotations: { [testAnnotationKey]: 'test index' },
  });
  const refsIndexArtifactDigest = sha256(refsIndexArtifactContent);
  testAnnotationValues[refsIndexArtifactDigest] = 'test index';

  return {
    seed,
    configs,
    manifests,
    layerBlobData,
    layerBlobDigest,
    layerBlobContentLength: String(layerBlobData.length),
    emptyLayerManifestContent,
    emptyLayerManifestDigest: sha256(emptyLayerManifestContent),
    nonexistentManifest: '.INVALID_MANIFEST_NAME',
    invalidManifestContent: Buffer.from('blablabla'),
    testBlobA: testBlobA.blob,
    testBlobALength: String(testBlobA.blob.length),
    testBlobADigest: testBlobA.digest,
    chunked: setupChunkedBlob(42, seed),
    emptyJSONBlob,
    emptyJSONDescriptor,
    testRefBlobA,
    testRefBlobALength: String(testRefBlobA.length),
    testRefBlobADigest: sha256(testRefBlobA),
    testRefArtifactTypeA,
    testRefBlobB,
    testRefBlobBLength: String(testRefBlobB.length),
    testRefBlobBDigest: sha256(testRefBlobB),
    testRefArtifactTypeB,
    testRefArtifactTypeIndex,
    testAnnotationKey,
    testAnnotationValues,
    refsManifestAConfigArtifactContent: refsA.content,
    refsManifestAConfigArtifactDigest: refsA.digest,
    refsManifestBConfigArtifactContent: refsB.content,
    refsManifestBConfigArtifactDigest: refsB.digest,
    refsManifestALayerArtifactContent: refsALayer.content,
    refsManifestALayerArtifactDigest: refsALayer.digest,
    refsManifestBLayerArtifactContent: refsBLayer.content,
    refsManifestBLayerArtifactDigest: refsBLayer.digest,
    refsManifestCLayerArtifactContent: refsCLayer.content,
    refsManifestCLayerArtifactDigest: refsCLayer.digest,
    refsIndexArtifactContent,
    refsIndexArtifactDigest,
    dummyDigest: sha256('hello world'),
  };
}
