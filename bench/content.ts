// Bytes the workloads push: random buffers made once per run, digests, and small OCI images
// (config + layers + manifest) built so that both registries accept them unchanged.
import { createHash, randomFillSync } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * 1024;
/** Throughput is reported in MB/s (10^6 bytes), as the issue states its figures. */
export const MB = 1_000_000;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export function randomBuffer(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

export function sha256(...parts: Buffer[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Writes a label into the first 64 bytes of a reused buffer so that every push is a blob neither
 * registry has seen (no dedup shortcut), and returns the new digest. Hashing happens before timing.
 */
export function stampBuffer(buffer: Buffer, label: string): string {
  buffer.fill(0, 0, 64);
  buffer.write(label.slice(0, 64), 0, 'utf8');
  return sha256(buffer);
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export function describe(bytes: Buffer, mediaType: string): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

export interface Image {
  config: Buffer;
  configDigest: string;
  layers: Buffer[];
  layerDigests: string[];
  manifest: Buffer;
  manifestDigest: string;
}

/** An OCI image config whose diff_ids are the (uncompressed) layer digests. */
export function imageConfig(layers: Descriptor[], label: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'bench.label': label } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    }),
  );
}

export function imageManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers,
      ...(annotations ? { annotations } : {}),
    }),
  );
}

/** A whole image from its layer bytes; the label makes the config (and so the image) unique. */
export function buildImage(layers: Buffer[], label: string): Image {
  const layerDescriptors = layers.map((l) => describe(l, OCI_LAYER));
  const config = imageConfig(layerDescriptors, label);
  const configDescriptor = describe(config, OCI_CONFIG);
  const manifest = imageManifest(configDescriptor, layerDescriptors);
  return {
    config,
    configDigest: configDescriptor.digest,
    layers,
    layerDigests: layerDescriptors.map((l) => l.digest),
    manifest,
    manifestDigest: sha256(manifest),
  };
}
