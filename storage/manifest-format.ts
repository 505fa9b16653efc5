// What a pushed manifest is: its media type, the blobs and manifests it references, and its
// subject. Parsing never changes the bytes; the registry stores and serves them exactly as pushed.
import { RegistryError } from '../errors/registry-error.js';
import { parseDigest } from './grammar.js';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
} as const;

const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);
export const MANIFEST_MEDIA_TYPES = new Set<string>([...IMAGE_TYPES, ...INDEX_TYPES, MEDIA_TYPES.ociArtifact]);

/** The biggest manifest we accept (distribution-spec suggests registries accept at least 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: unknown;
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the repository must hold (config, layers, artifact blobs), foreign layers excluded. */
  blobs: Descriptor[];
  /** Child manifests the repository must hold (an index's entries). */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, { detail });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Annotations are a string-to-string map (image-spec); anything else is refused, so that no
 * nested value (a JSON bomb) is kept and later re-serialised, e.g. into a referrers index.
 */
function parseAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) throw invalid(`${where} must map strings to strings`);
  return value as Record<string, string>;
}

/** A platform holds strings and lists of strings (architecture, os, os.features ...), nothing nested. */
function isFlatPlatform(value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')));
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} is not a descriptor`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(`${where}.mediaType is missing`);
  if (typeof digest !== 'string' || !parseDigest(digest)) throw invalid(`${where}.digest is invalid`, { digest });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size is invalid`);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (typeof value.artifactType === 'string') descriptor.artifactType = value.artifactType;
  const annotations = parseAnnotations(value.annotations, `${where}.annotations`);
  if (annotations) descriptor.annotations = annotations;
  if (Array.isArray(value.urls)) descriptor.urls = value.urls as string[];
  if (value.platform !== undefined) {
    if (!isFlatPlatform(value.platform)) throw invalid(`${where}.platform is invalid`);
    descriptor.platform = value.platform;
  }
  return descriptor;
}

function parseDescriptors(value: unknown, where: string, required: boolean): Descriptor[] {
  if (value === undefined || value === null) {
    if (required) throw invalid(`${where} is missing`);
    return [];
  }
  if (!Array.isArray(value)) throw invalid(`${where} is not an array`);
  return value.map((v, i) => parseDescriptor(v, `${where}[${i}]`));
}

/** Strips parameters ("; charset=utf-8") from a Content-Type. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  const bare = contentType?.split(';')[0].trim().toLowerCase();
  return bare ? bare : undefined;
}

/**
 * Validates a manifest body against its Content-Type. The body's own mediaType, when present,
 * must agree with the Content-Type; an absent Content-Type takes the body's.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest is not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = bareMediaType(contentType);
  const mediaType = header && header !== 'application/json' && header !== 'application/octet-stream' ? header : declared;
  if (!mediaType) throw invalid('manifest media type unknown: set Content-Type or mediaType');
  if (declared !== undefined && declared !== mediaType) {
    throw invalid('manifest mediaType does not match Content-Type', { mediaType: declared, contentType: header });
  }
  if (
    mediaType === 'application/vnd.docker.distribution.manifest.v1+json' ||
    mediaType === 'application/vnd.docker.distribution.manifest.v1+prettyjws'
  ) {
    throw invalid('schema1 manifests are not supported');
  }
  if (!MANIFEST_MEDIA_TYPES.has(mediaType)) throw invalid('unsupported manifest media type', { mediaType });

  if (mediaType !== MEDIA_TYPES.ociArtifact && doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const parsed: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (IMAGE_TYPES.has(mediaType)) {
    const config = parseDescriptor(doc.config, 'config');
    const layers = parseDescriptors(doc.layers, 'layers', mediaType === MEDIA_TYPES.dockerManifest);
    // Foreign layers (with urls) live elsewhere by design and are not required to be pushed.
    parsed.blobs = [config, ...layers.filter((l) => !l.urls || l.urls.length === 0)];
    parsed.artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : config.mediaType;
  } else if (INDEX_TYPES.has(mediaType)) {
    parsed.manifests = parseDescriptors(doc.manifests, 'manifests', true);
    if (typeof doc.artifactType === 'string') parsed.artifactType = doc.artifactType;
  } else {
    parsed.blobs = parseDescriptors(doc.blobs, 'blobs', false);
    if (typeof doc.artifactType !== 'string') throw invalid('artifactType is missing');
    parsed.artifactType = doc.artifactType;
  }
  if (doc.subject !== undefined) parsed.subject = parseDescriptor(doc.subject, 'subject');
  const annotations = parseAnnotations(doc.annotations, 'annotations');
  if (annotations) parsed.annotations = annotations;
  return parsed;
}
