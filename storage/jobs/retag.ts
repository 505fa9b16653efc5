// Retagging on the server: make an image of one repository reachable under another name (and
// tag) by writing links only. The manifest, every child manifest of an index and every blob they
// name are linked into the destination; no blob byte is read or written.
import { RegistryError } from '../../errors/registry-error.js';
import { assertDigest, assertName, assertTag, isDigestReference } from '../grammar.js';
import { parseManifest } from '../manifest-format.js';
import type { RegistryStorage } from '../registry.js';
import { SYSTEM_ORIGIN, type AuditOrigin } from '../audit-log.js';

export interface ImageReference {
  name: string;
  /** A tag or a digest. */
  reference?: string;
}

export interface RetagResult {
  digest: string;
  /** Manifests linked into the destination (the image and, for an index, its children). */
  manifests: number;
  /** Blobs linked into the destination. */
  blobs: number;
  /** Children or blobs the source itself lacks (an index pulled through a proxy one platform at a time). */
  missing: string[];
}

/** Parses "repo:tag", "repo@sha256:..." or "repo" (a registry host prefix is not part of it). */
export function parseImageReference(text: string): ImageReference {
  const at = text.indexOf('@');
  if (at >= 0) {
    const name = assertName(text.slice(0, at));
    const digest = text.slice(at + 1);
    assertDigest(digest);
    return { name, reference: digest };
  }
  const colon = text.lastIndexOf(':');
  if (colon > text.lastIndexOf('/')) {
    return { name: assertName(text.slice(0, colon)), reference: assertTag(text.slice(colon + 1)) };
  }
  return { name: assertName(text) };
}

async function linkManifest(
  storage: RegistryStorage,
  from: string,
  to: string,
  digest: string,
  result: RetagResult,
  seen: Set<string>,
): Promise<void> {
  if (seen.has(digest)) return;
  seen.add(digest);
  const manifest = await storage.manifests.get(from, digest);
  const parsed = parseManifest(manifest.bytes, manifest.mediaType);
  let complete = true;
  for (const child of parsed.manifests) {
    if (await storage.manifests.has(from, child.digest)) {
      await linkManifest(storage, from, to, child.digest, result, seen);
    } else {
      complete = false;
      result.missing.push(child.digest);
    }
  }
  for (const blob of parsed.blobs) {
    if ((await storage.blobs.has(from, blob.digest)) && (await storage.blobs.link(to, blob.digest))) {
      result.blobs++;
    } else {
      complete = false;
      result.missing.push(blob.digest);
    }
  }
  await storage.manifests.put(to, digest, manifest.bytes, manifest.mediaType, { checkReferences: complete });
  result.manifests++;
}

export interface RetagOptions {
  /** Move a destination tag that points at another digest (refused otherwise). */
  force?: boolean;
  /** Who the audit log names (the request's caller, a command's host user); default the registry. */
  origin?: AuditOrigin;
}

/**
 * Links source (by tag or digest) into destination; the destination tag defaults to the
 * source's tag. Throws MANIFEST_UNKNOWN when the source does not exist, and DENIED (409) when
 * the destination tag points at another image, unless forced: a retag that silently moved a
 * tag someone pushed would lose their image's name.
 */
export async function retag(
  storage: RegistryStorage,
  source: ImageReference,
  destination: ImageReference,
  options: RetagOptions = {},
): Promise<RetagResult> {
  const sourceRef = source.reference ?? 'latest';
  const manifest = await storage.manifests.get(source.name, sourceRef);
  const tag = destination.reference ?? (isDigestReference(sourceRef) ? undefined : sourceRef);
  if (tag !== undefined && isDigestReference(tag)) {
    throw new RegistryError('TAG_INVALID', 'the destination must be a repository and optionally a tag');
  }
  // An immutable destination tag on another digest is refused before anything is linked.
  if (tag !== undefined) await storage.manifests.checkTagWrite(destination.name, assertTag(tag), manifest.digest);
  if (tag !== undefined && !options.force) {
    const current = await storage.manifests.storedTagTarget(destination.name, tag);
    if (current !== undefined && current !== manifest.digest) {
      throw new RegistryError('DENIED', `${destination.name}:${tag} points at ${current}, not ${manifest.digest}; retag with force to move it`, {
        status: 409,
        detail: { name: destination.name, tag, current, digest: manifest.digest },
      });
    }
  }
  const result: RetagResult = { digest: manifest.digest, manifests: 0, blobs: 0, missing: [] };
  await linkManifest(storage, source.name, destination.name, manifest.digest, result, new Set());
  if (tag !== undefined) await storage.manifests.tag(destination.name, assertTag(tag), manifest.digest, { strict: result.missing.length === 0 });
  storage.audit.record({
    ...(options.origin ?? SYSTEM_ORIGIN),
    action: 'retag',
    repository: destination.name,
    reference: tag,
    digest: manifest.digest,
    detail: `from ${source.name}${isDigestReference(sourceRef) ? '@' : ':'}${sourceRef}`,
  });
  return result;
}
