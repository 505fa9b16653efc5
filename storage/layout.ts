// Every storage key the registry uses, built in one place from checked inputs (after
// distribution's registry/storage/paths.go). No other module joins key segments.
//
// <root>/
//   layout-version                                   "1"
//   blobs/<alg>/<hex[0:2]>/<hex>/data                one copy of each blob, registry-wide
//   repositories/<name>/
//     _layers/<alg>/<hex>/link                       the repository may serve this blob
//     _manifests/revisions/<alg>/<hex>/link          manifest revision: {digest, mediaType, size}
//     _manifests/tags/<tag>/current/link             tag -> manifest digest
//     _manifests/referrers/<alg>/<subject-hex>/<alg>-<hex>   descriptor of a manifest whose subject is that digest
//     _uploads/<uuid>/data                           bytes of an upload in progress (or of a proxied blob being stored)
//     _uploads/<uuid>/startedat                      ISO time the upload began
//     _proxy/tags/<tag>                              pull-through cache: {digest, validatedAt} of a cached tag
//     _proxy/pulled/<alg>-<hex>                      pull-through cache: when a client last pulled that manifest
//                                                    (both read and written by storage/proxy-records.ts)
//   proxy/staging/<uuid>                             no longer written: older versions copied a proxied blob
//                                                    in here before its commit (one a killed fill left is
//                                                    safe to delete)
//   _gc/leases/<run-id>                              a garbage collection in progress (storage/jobs/gc.ts),
//                                                    or a proxy cache eviction (storage/jobs/proxy-eviction.ts)
//   _gc/aside/<run-id>/<key>                         an object a collection has set aside while it
//                                                    checks nobody used it (storage/liveness.ts)
//   _database/claims/<uuid>                          shared storage (S3) only: a process using the storage and the
//                                                    metadata database it uses (storage/database-claim.ts)
//   _tmp/                                            filesystem driver only, not a key: writes in flight
//
// A registry:2 (CNCF Distribution) directory or S3 prefix holds the same tree under
// docker/registry/v2/ of its root, without layout-version, with revision links that hold the bare
// digest, and with tags/<tag>/index/ beside current/ (ignored here). stowage serves such a tree in
// place (storage/open.ts, storage/revision-link.ts): the keys below are then relative to it.
//
// Repository name components never start with "_", so the "_layers"/"_manifests"/"_uploads"
// directories cannot collide with a nested repository name.
import { RegistryError } from '../errors/registry-error.js';
import { assertDigest, assertName, assertTag, assertUploadId } from './grammar.js';

export const LAYOUT_VERSION = '1';
/** Where Distribution keeps its tree below its root directory (its registry/storage/paths.go). */
export const DISTRIBUTION_ROOT = 'docker/registry/v2';

/**
 * Whose tree storage is: stowage's own (layout-version at the root), or a registry:2 tree served in
 * place, whose revision links stowage writes as Distribution does so that registry:2 can still read
 * them (a rollback).
 */
export type LayoutKind = 'stowage' | 'distribution';
export const LAYOUT_VERSION_KEY = 'layout-version';
export const BLOBS_ROOT = 'blobs';
export const REPOSITORIES_ROOT = 'repositories';

export function blobDirKey(digest: string): string {
  const { algorithm, hex } = assertDigest(digest);
  return `${BLOBS_ROOT}/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

export function blobDataKey(digest: string): string {
  return `${blobDirKey(digest)}/data`;
}

export function repositoryKey(name: string): string {
  return `${REPOSITORIES_ROOT}/${assertName(name)}`;
}

export function layerLinkKey(name: string, digest: string): string {
  const { algorithm, hex } = assertDigest(digest);
  return `${repositoryKey(name)}/_layers/${algorithm}/${hex}/link`;
}

export function manifestRevisionDirKey(name: string, digest: string): string {
  const { algorithm, hex } = assertDigest(digest);
  return `${repositoryKey(name)}/_manifests/revisions/${algorithm}/${hex}`;
}

export function manifestRevisionKey(name: string, digest: string): string {
  return `${manifestRevisionDirKey(name, digest)}/link`;
}

export function manifestRevisionsPrefix(name: string): string {
  return `${repositoryKey(name)}/_manifests/revisions`;
}

export function tagsPrefix(name: string): string {
  return `${repositoryKey(name)}/_manifests/tags`;
}

export function tagKey(name: string, tag: string): string {
  return `${tagsPrefix(name)}/${assertTag(tag)}`;
}

export function tagCurrentLinkKey(name: string, tag: string): string {
  return `${tagKey(name, tag)}/current/link`;
}

export function referrersPrefix(name: string, subject: string): string {
  const { algorithm, hex } = assertDigest(subject);
  return `${repositoryKey(name)}/_manifests/referrers/${algorithm}/${hex}`;
}

export function referrerKey(name: string, subject: string, referrer: string): string {
  const { algorithm, hex } = assertDigest(referrer);
  return `${referrersPrefix(name, subject)}/${algorithm}-${hex}`;
}

export function uploadPrefix(name: string, id: string): string {
  return `${repositoryKey(name)}/_uploads/${assertUploadId(id)}`;
}

export function uploadDataKey(name: string, id: string): string {
  return `${uploadPrefix(name, id)}/data`;
}

export function uploadStartedAtKey(name: string, id: string): string {
  return `${uploadPrefix(name, id)}/startedat`;
}

/** When a pull-through cache last checked a tag with its upstream (proxy/). */
export function proxyTagKey(name: string, tag: string): string {
  return `${repositoryKey(name)}/_proxy/tags/${assertTag(tag)}`;
}

/** When a client last pulled a cached manifest, for evicting the least recently pulled (proxy/). */
export function proxyPulledKey(name: string, digest: string): string {
  const { algorithm, hex } = assertDigest(digest);
  return `${repositoryKey(name)}/_proxy/pulled/${algorithm}-${hex}`;
}

/** Listing prefixes for the garbage collector's walk of the content store: blobs/<alg>/<shard>. */
export function blobListingPrefix(algorithm?: string, shard?: string): string {
  if (algorithm === undefined) return BLOBS_ROOT;
  if (!/^[a-z0-9]+$/.test(algorithm) || (shard !== undefined && !/^[a-f0-9]{2}$/.test(shard))) {
    throw new RegistryError('DIGEST_INVALID', 'invalid blob listing prefix');
  }
  return shard === undefined ? `${BLOBS_ROOT}/${algorithm}` : `${BLOBS_ROOT}/${algorithm}/${shard}`;
}

/** The layer links of a repository: _layers/<alg>/<hex>/link. */
export function layerLinksPrefix(name: string, algorithm?: string): string {
  const prefix = `${repositoryKey(name)}/_layers`;
  if (algorithm === undefined) return prefix;
  if (!/^[a-z0-9]+$/.test(algorithm)) throw new RegistryError('DIGEST_INVALID', 'invalid algorithm');
  return `${prefix}/${algorithm}`;
}

/** The upload sessions of a repository: _uploads/<uuid>. */
export function uploadsPrefix(name: string): string {
  return `${repositoryKey(name)}/_uploads`;
}

/** The manifest digest a referrer entry's file name stands for ("sha256-<hex>" -> "sha256:<hex>"). */
export function referrerDigestFromEntry(entry: string): string {
  return entry.replace('-', ':');
}

/** Directory names under a repository that belong to the layout, not to nested repositories. */
export const REPOSITORY_INTERNAL_DIRS = new Set(['_layers', '_manifests', '_uploads', '_proxy']);

/** Everything the garbage collector keeps for itself (storage/jobs/gc.ts, storage/liveness.ts). */
export const GC_ROOT = '_gc';
export const GC_ASIDE_ROOT = `${GC_ROOT}/aside`;
export const GC_LEASES_ROOT = `${GC_ROOT}/leases`;

/** Where collection run parks the object at key while it checks that nobody has used it. */
export function asidePrefix(run: string): string {
  return `${GC_ASIDE_ROOT}/${assertUploadId(run)}`;
}

export function asideKey(run: string, key: string): string {
  return `${asidePrefix(run)}/${key}`;
}

export function gcLeaseKey(id: string): string {
  return `${GC_LEASES_ROOT}/${assertUploadId(id)}`;
}

/** The processes on a shared storage and their metadata databases (storage/database-claim.ts). */
export const DATABASE_CLAIMS_ROOT = '_database/claims';

export function databaseClaimKey(id: string): string {
  return `${DATABASE_CLAIMS_ROOT}/${assertUploadId(id)}`;
}
