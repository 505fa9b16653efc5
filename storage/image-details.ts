// One image as the JSON API shows it: what the metadata database records about the manifest
// (sizes, platforms, times, pulls, tags, referrers) with its layers or children in the order the
// manifest lists them, read from the manifest's own bytes (the database keeps references as a
// set), and for an image its config (storage/image-config.ts) with the history entry that made
// each layer. Reading the bytes is not a pull: it goes to the stores, not a Repository.
import { RegistryError } from '../errors/registry-error.js';
import { IMAGE_CONFIG_MEDIA_TYPES, parseImageConfig, readConfigBlob, type ImageConfig } from './image-config.js';
import { isValidTag, parseDigest } from './grammar.js';
import type { RegistryStorage } from './registry.js';
import type { ManifestRecord, ManifestSummary } from './metadata/metadata-queries.js';
import type { Platform, ReferrerDescriptor } from './metadata/metadata-store.js';

export interface ImageBlob {
  digest: string;
  mediaType?: string;
  size: number;
  annotations?: Record<string, string>;
  /** A foreign layer's locations (not stored here). */
  urls?: string[];
  /** A layer's: the command of the history entry that made it (from the image config). */
  createdBy?: string;
}

export interface ImageChild {
  digest: string;
  mediaType?: string;
  /** Bytes of the child manifest. */
  size: number;
  platform?: Platform;
  /** The child as the database records it, when the repository holds it. */
  manifest?: ManifestSummary;
}

export interface ImageDetails extends Omit<ManifestRecord, 'references'> {
  name: string;
  config?: ImageBlob;
  /** An image's layers, an artifact's blobs: in manifest order. */
  layers: ImageBlob[];
  /** An index's manifests, in manifest order. */
  children: ImageChild[];
  referrers: ReferrerDescriptor[];
  /** An image's config, when it is a Docker or OCI image config the repository holds. */
  image?: ImageConfig;
}

/** The image under a tag or digest. Throws NAME_UNKNOWN or MANIFEST_UNKNOWN. */
export async function imageDetails(storage: RegistryStorage, name: string, reference: string): Promise<ImageDetails> {
  const queries = storage.queries;
  if (!queries) throw new RegistryError('UNSUPPORTED', 'this registry keeps no metadata database');
  const digest = parseDigest(reference) ? reference : undefined;
  if (digest === undefined && !isValidTag(reference))
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference: reference.slice(0, 200) } });
  const record = await queries.manifest(name, digest ? { digest } : { tag: reference });
  if (!record) {
    if (!(await storage.metadata!.repositoryExists(name))) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
    throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
  }
  const { references, ...facts } = record;
  const listed = await listedDescriptors(storage, name, record.digest);
  const details: ImageDetails = { name, ...facts, layers: [], children: [], referrers: await queries.referrers(name, record.digest) };
  if (listed) {
    if (listed.config) details.config = listed.config;
    details.layers = listed.layers;
    details.children = listed.children;
  } else {
    // The bytes could not be read: the references as recorded, without their order.
    for (const r of references) {
      if (r.kind === 'manifest') details.children.push({ digest: r.digest, size: r.size });
      else if (r.digest === record.configDigest) details.config = { digest: r.digest, size: r.size };
      else details.layers.push({ digest: r.digest, size: r.size });
    }
  }
  const image = details.config && (await imageConfigOf(storage, name, details.config, details.layers.length));
  if (image) {
    details.image = image;
    for (const entry of image.history) {
      if (entry.layer !== undefined && entry.createdBy !== undefined) details.layers[entry.layer].createdBy = entry.createdBy;
    }
  }
  if (details.children.length > 0) {
    const known = await queries.manifests(
      name,
      details.children.map((c) => c.digest),
    );
    for (const child of details.children) {
      const summary = known.get(child.digest);
      if (summary) child.manifest = summary;
    }
  }
  return details;
}

/** The parsed config of an image; undefined for an artifact's config, or one not held or too large. */
async function imageConfigOf(storage: RegistryStorage, name: string, config: ImageBlob, layerCount: number): Promise<ImageConfig | undefined> {
  if (config.mediaType === undefined || !IMAGE_CONFIG_MEDIA_TYPES.has(config.mediaType)) return undefined;
  let bytes: Buffer;
  try {
    bytes = await readConfigBlob(storage, name, config.digest);
  } catch (err) {
    // Not cached yet (a pull-through repository), collected, or larger than a config should be.
    if (err instanceof RegistryError) return undefined;
    throw err;
  }
  return parseImageConfig(bytes, layerCount);
}

interface Listed {
  config?: ImageBlob;
  layers: ImageBlob[];
  children: ImageChild[];
}

/** The descriptors of a stored manifest in its own order; undefined when its bytes cannot be read. */
async function listedDescriptors(storage: RegistryStorage, name: string, digest: string): Promise<Listed | undefined> {
  let doc: Record<string, unknown>;
  try {
    const manifest = await storage.manifests.get(name, digest);
    doc = JSON.parse(manifest.bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof RegistryError || err instanceof SyntaxError) return undefined;
    throw err;
  }
  const config = blobOf(doc.config);
  const listed: Listed = {
    layers: descriptors(doc.layers ?? doc.blobs)
      .map(blobOf)
      .filter((b): b is ImageBlob => b !== undefined),
    children: descriptors(doc.manifests)
      .map(childOf)
      .filter((c): c is ImageChild => c !== undefined),
  };
  if (config) listed.config = config;
  return listed;
}

function descriptors(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

function blobOf(value: unknown): ImageBlob | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string' || typeof d.size !== 'number') return undefined;
  const blob: ImageBlob = { digest: d.digest, size: d.size };
  if (typeof d.mediaType === 'string') blob.mediaType = d.mediaType;
  if (d.annotations && typeof d.annotations === 'object') blob.annotations = d.annotations as Record<string, string>;
  if (Array.isArray(d.urls) && d.urls.length > 0) blob.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return blob;
}

function childOf(value: unknown): ImageChild | undefined {
  const blob = blobOf(value);
  if (!blob) return undefined;
  const child: ImageChild = { digest: blob.digest, size: blob.size };
  if (blob.mediaType) child.mediaType = blob.mediaType;
  const platform = (value as { platform?: unknown }).platform;
  if (platform && typeof platform === 'object') {
    const { os, architecture, variant } = platform as Record<string, unknown>;
    if (typeof os === 'string' && typeof architecture === 'string') {
      child.platform = typeof variant === 'string' && variant ? { os, architecture, variant } : { os, architecture };
    }
  }
  return child;
}
