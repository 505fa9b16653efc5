// Image content for the proxy tests: blobs with their digests and OCI/Docker manifests as the
// exact bytes an upstream serves (indented, so a proxy that re-serialises them would be caught).
import { createHash } from 'node:crypto';

export interface Blob {
  bytes: Buffer;
  digest: string;
  size: number;
}

export interface Manifest extends Blob {
  mediaType: string;
}

export function blobOf(content: Buffer | string): Blob {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

/** Deterministic bytes that differ per seed (xorshift). */
export function randomBlob(size: number, seed: number): Blob {
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

function manifestOf(doc: Record<string, unknown>): Manifest {
  return { ...blobOf(JSON.stringify(doc, null, 2) + '\n'), mediaType: doc.mediaType as string };
}

const describe = (b: Blob, mediaType: string) => ({ mediaType, digest: b.digest, size: b.size });

export function imageManifest(config: Blob, layers: Blob[], kind: 'oci' | 'docker' = 'oci'): Manifest {
  const oci = kind === 'oci';
  return manifestOf({
    schemaVersion: 2,
    mediaType: oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json',
    config: describe(config, oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json'),
    layers: layers.map((l) => describe(l, oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip')),
  });
}

export function imageIndex(children: Manifest[]): Manifest {
  const platforms = ['amd64', 'arm64', 's390x'];
  return manifestOf({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: children.map((c, i) => ({ ...describe(c, c.mediaType), platform: { architecture: platforms[i % 3], os: 'linux' } })),
  });
}
