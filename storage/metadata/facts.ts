// What the metadata database records about a manifest, read from its parsed form and (for an
// image) its config blob: shared by the push path (storage/manifests.ts) and the import of an
// existing storage (storage/metadata/import.ts).
import type { ParsedManifest } from '../manifest-format.js';
import type { ManifestFacts, Platform } from './metadata-store.js';

/** Configs larger than this are not read for `created` and the platform (real ones are a few KiB). */
const MAX_CONFIG_BYTES = 256 * 1024;

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

export async function manifestFacts(
  digest: string,
  size: number,
  parsed: ParsedManifest,
  readBlob: (digest: string) => Promise<Buffer | undefined>,
): Promise<ManifestFacts> {
  const facts: ManifestFacts = {
    digest,
    mediaType: parsed.mediaType,
    size,
    references: [
      ...parsed.blobs.map((b) => ({ digest: b.digest, kind: 'blob' as const, size: b.size })),
      ...parsed.manifests.map((m) => ({ digest: m.digest, kind: 'manifest' as const, size: m.size })),
    ],
  };
  if (parsed.artifactType) facts.artifactType = parsed.artifactType;
  if (parsed.subject) facts.subject = parsed.subject.digest;
  if (parsed.annotations) facts.annotations = parsed.annotations;
  if (parsed.manifests.length > 0) {
    const platforms = parsed.manifests.map((m) => platformOf(m.platform)).filter((p): p is Platform => p !== undefined);
    if (platforms.length > 0) facts.platforms = platforms;
  }
  const config = parsed.blobs[0];
  if (parsed.manifests.length === 0 && config && IMAGE_CONFIG_TYPES.has(config.mediaType)) {
    facts.configDigest = config.digest;
    if (config.size <= MAX_CONFIG_BYTES) {
      const bytes = await readBlob(config.digest).catch(() => undefined);
      const doc = bytes ? parseJson(bytes) : undefined;
      if (doc) {
        if (typeof doc.created === 'string') facts.created = doc.created;
        const platform = platformOf(doc);
        if (platform) facts.platforms = [platform];
      }
    }
  }
  return facts;
}

function parseJson(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function platformOf(value: unknown): Platform | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { os, architecture, variant } = value as Record<string, unknown>;
  if (typeof os !== 'string' || typeof architecture !== 'string') return undefined;
  return typeof variant === 'string' && variant ? { os, architecture, variant } : { os, architecture };
}
