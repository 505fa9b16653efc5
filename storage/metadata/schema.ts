// The metadata database's tables, as Kysely sees them. Both SQLite and PostgreSQL hold the same
// schema (storage/metadata/migrations.ts); times are milliseconds since the epoch.
import type { Generated } from 'kysely';

/** The two databases the schema is written for. */
export type Dialect = 'sqlite' | 'postgres';

export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  created_at: number;
  // Kept by triggers (migration 0002), so a page of repositories costs the page:
  /** Ready manifests. */
  manifest_count: Generated<number>;
  /** Bytes of the ready manifests themselves. */
  manifest_bytes: Generated<number>;
  /** Bytes of the distinct blobs ready manifests reference (repository_blobs). */
  blob_bytes: Generated<number>;
  tag_count: Generated<number>;
  /** The latest push of a manifest or a tag. */
  last_pushed_at: Generated<number | null>;
  /** The latest pull of any of its manifests (migration 0003; written with the pull counts). */
  last_pulled_at: Generated<number | null>;
  // Generated columns (0003), the sort keys the repositories list has indexes for:
  /** manifest_bytes + blob_bytes. */
  size: Generated<number>;
  /** last_pushed_at, 0 when null. */
  last_pushed_key: Generated<number>;
  /** last_pulled_at, 0 when null. */
  last_pulled_key: Generated<number>;
}

/** A blob the repository's ready manifests reference, with how many of them do (kept by triggers). */
export interface RepositoryBlobsTable {
  repository_id: number;
  digest: string;
  size: number;
  refs: number;
}

/**
 * A manifest a repository holds. 'pending' while its push is in flight (written before its
 * dependencies are retained, so a collection sees it as a reference); 'ready' once the push has
 * retained everything it needs. Only ready manifests are listed.
 */
export interface ManifestsTable {
  id: Generated<number>;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  subject_digest: string | null;
  config_digest: string | null;
  /** Bytes of the manifest itself. */
  size: number;
  /** The manifest, its blobs and (for an index) its children's totals, as far as known. */
  total_size: number;
  /** `created` from the image config, as written there. */
  created: string | null;
  /** JSON: [{os, architecture, variant?}] of an image (from its config) or an index. */
  platforms: string | null;
  /** JSON: the manifest's annotations (the referrers API returns them). */
  annotations: string | null;
  state: 'pending' | 'ready';
  pushed_at: number;
  pushed_by: string | null;
  last_pulled_at: number | null;
  pull_count: number;
}

/** What a manifest references: a blob (config, layer) or a child manifest (of an index). */
export interface ManifestReferencesTable {
  manifest_id: number;
  digest: string;
  kind: 'blob' | 'manifest';
  size: number;
}

export interface TagsTable {
  repository_id: number;
  name: string;
  manifest_id: number;
  pushed_at: number;
  last_pulled_at: number | null;
  pull_count: number;
}

/** Facts about the database itself (import done, storage it indexes). */
export interface MetaTable {
  key: string;
  value: string;
}

/** A robot account (migration 0004): a name, the hash of its secret and its grants. */
export interface RobotsTable {
  name: string;
  /** SHA-256 of the secret, hex (storage/metadata/robots.ts says why not bcrypt). */
  secret_hash: string;
  /** JSON: repository globs. */
  repositories: string;
  /** JSON: actions (pull, push, delete). */
  actions: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

/** One audit log event (migration 0005, storage/metadata/audit-events.ts). */
export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  /** The user (the event's `user`). */
  actor: string | null;
  /** user, robot, token, anonymous, cli, system (the event's `userKind`). */
  actor_kind: string;
  client: string | null;
  action: string;
  repository: string | null;
  reference: string | null;
  digest: string | null;
  /** ok, denied, unauthorized, error. */
  result: string;
  status: number | null;
  detail: string | null;
  request_id: string | null;
}

export interface MetadataSchema {
  repositories: RepositoriesTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  repository_blobs: RepositoryBlobsTable;
  stowage_meta: MetaTable;
  robots: RobotsTable;
  audit_events: AuditEventsTable;
}
