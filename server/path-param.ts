// The last segment of a /v2 path (a tag, digest or upload id), percent-decoded. Clients may encode
// it (`sha256%3A...`, `v%31`), and Distribution, whose Go server decodes paths before routing,
// answers those. It is decoded once, after the path is split, so an encoded "/" stays inside the
// segment; the result still meets the tag, digest or upload-id grammar before any use, and none
// of those admits "/", "%" or a dot segment. Repository names are never decoded (routes.ts).

/** The decoded segment; undecodable (a stray "%", not UTF-8) stays as sent, which every
 *  parameter grammar refuses, so it gets the same answer as any malformed tag or digest. */
export function decodePathParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
