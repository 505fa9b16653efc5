// The spec's grammar for repository names, tags and digests, shared by the route parsers and
// storage/layout.ts so that nothing unchecked ever becomes a storage key.
// See distribution-spec "Pulling manifests" (name and tag rules) and image-spec descriptor digests.
import { RegistryError } from '../errors/registry-error.js';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Longest repository name we accept; clients cap host + name at 255 characters. */
export const MAX_NAME_LENGTH = 255;

/** Digest algorithms we can verify, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function assertName(name: string): string {
  if (!isValidName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name: name.slice(0, 300) } });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function assertTag(tag: string): string {
  if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag: tag.slice(0, 200) } });
  return tag;
}

/** Parses a digest we can store: known algorithm, lowercase hex of the right length. */
export function parseDigest(digest: string): ParsedDigest | undefined {
  const m = DIGEST_RE.exec(digest);
  if (!m) return undefined;
  const algorithm = m[1] as DigestAlgorithm;
  const length = DIGEST_ALGORITHMS[algorithm];
  if (length === undefined || !Object.hasOwn(DIGEST_ALGORITHMS, algorithm)) return undefined;
  const hex = m[2];
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm, hex };
}

export function assertDigest(digest: string): ParsedDigest {
  const parsed = parseDigest(digest);
  if (!parsed) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { detail: { digest: digest.slice(0, 200) } });
  return parsed;
}

/** The algorithm of ?digest-algorithm= (end-4c): one we can verify, or DIGEST_INVALID (400). */
export function assertDigestAlgorithm(algorithm: string): DigestAlgorithm {
  if (!Object.hasOwn(DIGEST_ALGORITHMS, algorithm)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm: use ${Object.keys(DIGEST_ALGORITHMS).join(' or ')}`, {
      detail: { algorithm: algorithm.slice(0, 100) },
    });
  }
  return algorithm as DigestAlgorithm;
}

/** A reference is a tag or a digest; anything with a colon must be a valid digest. */
export function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

const UPLOAD_ID_RE = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** Upload ids (and collection run ids) are UUIDs this registry made; anything else names no upload. */
export function assertUploadId(id: string): string {
  if (!UPLOAD_ID_RE.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload unknown', { detail: { uuid: id.slice(0, 100) } });
  return id;
}

/**
 * A glob over repository names (`*` within one component, `**` across, `?` one character) to an
 * anchored regular expression: the access rules and the immutable-tag rules use it; over tag
 * names, which have no `/`, `*` and `?` are the usual shell globs.
 */
export function compileGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // "a/**" also matches "a" itself; "**/b" also matches "b".
      if (glob[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else if (source.endsWith('/')) {
        source = `${source.slice(0, -1)}(?:/.*)?`;
        i += 1;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
