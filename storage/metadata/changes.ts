// What a process tells the others on its metadata database when it changed a repository's tags
// or manifests (MetadataDatabase.announce on CHANGES_CHANNEL: PostgreSQL NOTIFY), so that each
// replica drops from its caches exactly what moved (storage/change-feed.ts). Sent only once both
// the database and storage hold the change: a replica that re-reads after it sees the new state.
import { isValidName } from '../grammar.js';

/** The channel changes are announced on. */
export const CHANGES_CHANNEL = 'stowage_changes';

export type Change =
  /** The tag was set, moved or deleted. */
  | { kind: 'tag'; repository: string; tag: string }
  /** A manifest was pushed by digest (no tag moved: only listings change). */
  | { kind: 'pushed'; repository: string; digest: string }
  /** The manifest was deleted, and every tag that pointed at it. */
  | { kind: 'deleted'; repository: string; digest: string }
  /** Anything in the repository (what versions before these payloads announced). */
  | { kind: 'repository'; repository: string }
  /** Announcements may have been missed (a lost connection): anything may have changed. */
  | { kind: 'everything' };

const EVERYTHING = '*';

/** The payload of a change: a small JSON object ('*' for everything). */
export function encodeChange(change: Change): string {
  switch (change.kind) {
    case 'tag':
      return JSON.stringify({ r: change.repository, t: change.tag });
    case 'pushed':
      return JSON.stringify({ r: change.repository, p: change.digest });
    case 'deleted':
      return JSON.stringify({ r: change.repository, d: change.digest });
    case 'repository':
      return JSON.stringify({ r: change.repository });
    case 'everything':
      return EVERYTHING;
  }
}

/**
 * The change a payload describes. A bare repository name is what versions before precise
 * payloads sent (a rolling upgrade has both); anything unreadable counts as everything, since
 * dropping too much costs a re-read and dropping too little serves stale tags.
 */
export function decodeChange(payload: string): Change {
  if (payload === EVERYTHING || payload === '') return { kind: 'everything' };
  if (!payload.startsWith('{')) return isValidName(payload) ? { kind: 'repository', repository: payload } : { kind: 'everything' };
  let fields: { r?: unknown; t?: unknown; p?: unknown; d?: unknown };
  try {
    fields = JSON.parse(payload) as typeof fields;
  } catch {
    return { kind: 'everything' };
  }
  if (typeof fields !== 'object' || fields === null || typeof fields.r !== 'string' || !isValidName(fields.r)) return { kind: 'everything' };
  if (typeof fields.t === 'string') return { kind: 'tag', repository: fields.r, tag: fields.t };
  if (typeof fields.p === 'string') return { kind: 'pushed', repository: fields.r, digest: fields.p };
  if (typeof fields.d === 'string') return { kind: 'deleted', repository: fields.r, digest: fields.d };
  return { kind: 'repository', repository: fields.r };
}
