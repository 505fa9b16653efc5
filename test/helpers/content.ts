// Test content: blobs with their digests, and manifests of every kind the registry accepts, built
// as the exact bytes a client would push (so tests can compare what comes back byte for byte).
import { createHash } from 'node:crypto';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** An Accept header that takes every manifest kind. */
export const ACCEPT_ALL = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerManifestList].join(', ');

export interface Blob {
  /** Backed by a plain ArrayBuffer, so it can be a fetch() body as it is. */
  bytes: Buffer<ArrayBuffer>;
  digest: string;
  size: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface Manifest extends Blob {
  mediaType: string;
  /** The descriptor another manifest (an index, a referrer's subject) uses to point at this one. */
  descriptor: Descriptor;
}

export function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function blobOf(content: Buffer<ArrayBuffer> | string, algorithm: 'sha256' | 'sha512' = 'sha256'): Blob {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { bytes, digest: digestOf(bytes, algorithm), size: bytes.length };
}

/** Deterministic pseudo-random bytes (a "layer" that does not compress to nothing). */
export function randomBlob(size: number, seed = 1): Blob {
  const bytes = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return blobOf(bytes);
}

/** The empty JSON blob OCI artifacts use as their config. */
export const EMPTY_CONFIG = blobOf('{}');

function describe(blob: Blob, mediaType: string): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size };
}

/** Serialises a manifest document; the indentation makes sure bytes are served unnormalised. */
function manifestOf(doc: Record<string, unknown>, mediaType: string): Manifest {
  const bytes = Buffer.from(JSON.stringify(doc, null, 3) + '\n');
  const digest = digestOf(bytes);
  const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
  if (typeof doc.artifactType === 'string') descriptor.artifactType = doc.artifactType;
  return { bytes, digest, size: bytes.length, mediaType, descriptor };
}

export function ociManifest(
  config: Blob,
  layers: Blob[],
  extra: { artifactType?: string; configMediaType?: string; subject?: Descriptor; annotations?: Record<string, string> } = {},
): Manifest {
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: describe(config, extra.configMediaType ?? MEDIA.ociConfig),
    layers: layers.map((l) => describe(l, MEDIA.ociLayer)),
  };
  if (extra.artifactType) doc.artifactType = extra.artifactType;
  if (extra.subject) doc.subject = extra.subject;
  if (extra.annotations) doc.annotations = extra.annotations;
  return manifestOf(doc, MEDIA.ociManifest);
}

export function dockerManifest(config: Blob, layers: Blob[]): Manifest {
  return manifestOf(
    {
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: describe(config, MEDIA.dockerConfig),
      layers: layers.map((l) => describe(l, MEDIA.dockerLayer)),
    },
    MEDIA.dockerManifest,
  );
}

const PLATFORMS = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm64', os: 'linux' },
];

export function ociIndex(children: Manifest[], extra: { subject?: Descriptor; artifactType?: string } = {}): Manifest {
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: children.map((c, i) => ({ ...c.descriptor, platform: PLATFORMS[i % PLATFORMS.length] })),
  };
  if (extra.artifactType) doc.artifactType = extra.artifactType;
  if (extra.subject) doc.subject = extra.subject;
  return manifestOf(doc, MEDIA.ociIndex);
}

export function dockerManifestList(children: Manifest[]): Manifest {
  return manifestOf(
    {
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifestList,
      manifests: children.map((c, i) => ({ ...c.descriptor, platform: PLATFORMS[i % PLATFORMS.length] })),
    },
    MEDIA.dockerManifestList,
  );
}

/** An artifact in the withdrawn OCI 1.1-rc artifact manifest format, which the registry still takes. */
export function ociArtifactManifest(artifactType: string, blobs: Blob[], subject?: Descriptor): Manifest {
  const doc: Record<string, unknown> = {
    mediaType: MEDIA.ociArtifact,
    artifactType,
    blobs: blobs.map((b) => describe(b, 'application/octet-stream')),
  };
  if (subject) doc.subject = subject;
  return manifestOf(doc, MEDIA.ociArtifact);
}

/** An OCI 1.1 artifact: an image manifest with artifactType and the empty config. */
export function ociArtifact(artifactType: string, layers: Blob[], subject?: Descriptor, annotations?: Record<string, string>): Manifest {
  return ociManifest(EMPTY_CONFIG, layers, { artifactType, configMediaType: MEDIA.ociEmpty, subject, annotations });
}
