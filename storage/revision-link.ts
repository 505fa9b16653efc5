// What a manifest revision link (storage/layout.ts) holds. stowage writes JSON
// {digest, mediaType, size, subject?}, so the media type a manifest was pushed as survives even when
// its bytes do not name one. Distribution (registry:2) writes the bare digest and takes the media
// type from the bytes when it serves the manifest; a link of either kind is read here. In a
// registry:2 tree served in place, stowage writes the bare digest too whenever the bytes say the
// same media type, so that registry:2 can still serve everything after a rollback.
import { parseDigest } from './grammar.js';
import type { LayoutKind } from './layout.js';
import { MEDIA_TYPES } from './manifest-format.js';

/** A revision as stowage records it. */
export interface RevisionRecord {
  digest: string;
  mediaType: string;
  size: number;
  subject?: string;
}

/** A revision as a link holds it: mediaType and subject are absent from a bare-digest link. */
export interface StoredRevision {
  digest: string;
  mediaType?: string;
  subject?: string;
}

/** Reads a link's content; throws SyntaxError when it is neither stowage's JSON nor a digest. */
export function decodeRevision(raw: Buffer): StoredRevision {
  const text = raw.toString('utf8').trim();
  if (text.startsWith('{')) {
    const record = JSON.parse(text) as Partial<RevisionRecord>;
    if (typeof record.digest !== 'string' || typeof record.mediaType !== 'string') throw new SyntaxError('revision link without digest or mediaType');
    const stored: StoredRevision = { digest: record.digest, mediaType: record.mediaType };
    if (typeof record.subject === 'string') stored.subject = record.subject;
    return stored;
  }
  if (!parseDigest(text)) throw new SyntaxError('revision link holds neither JSON nor a digest');
  return { digest: text };
}

/**
 * The media type Distribution serves stored manifest bytes as: their own mediaType field, else an
 * OCI index when they list manifests, else an OCI image manifest (its manifestStore.Get).
 * Undefined when the bytes are not a JSON object.
 */
export function mediaTypeOfBytes(bytes: Buffer): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const { mediaType, manifests } = doc as Record<string, unknown>;
  if (typeof mediaType === 'string' && mediaType) return mediaType;
  return Array.isArray(manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
}

/** The content of a revision link for a manifest with these bytes, in the layout's form. */
export function encodeRevision(record: RevisionRecord, bytes: Buffer, layout: LayoutKind): string {
  if (layout === 'distribution' && mediaTypeOfBytes(bytes) === record.mediaType) return record.digest;
  // A media type the bytes do not say (a Docker manifest without its mediaType field, pushed with
  // the Content-Type only) needs the JSON form, which registry:2 cannot read: it could not have
  // taken that push either.
  return JSON.stringify(record);
}
