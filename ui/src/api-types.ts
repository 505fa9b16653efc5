// The JSON the UI reads from /api/v1 (openapi.yaml and /work/design.md describe it). Fields
// added with the UI are optional here: the pages leave out what an older server does not send.
import type { AuthMode } from './api.js';
import type { PlatformLike } from './format.js';

export interface Session {
  auth: AuthMode;
  user: string | null;
  deleteEnabled: boolean;
  readOnly: boolean;
  version: string;
  name: string;
}

export interface Upstream {
  prefix: string;
  remoteurl: string;
  online?: boolean;
}

export interface Stats {
  repositories: number;
  tags: number;
  manifests: number;
  storedBytes: number;
  logicalBytes: number;
  dedupRatio: number;
  upstreams: Upstream[];
}

export interface Actions {
  pull: boolean;
  push: boolean;
  delete: boolean;
}

export interface RepositorySummary {
  name: string;
  size: number;
  tags: number;
  manifests: number;
  lastPushed: string | null;
  lastPulled?: string | null;
  namespace?: string | null;
  actions?: Actions;
}

export interface RepositoriesPage {
  repositories: RepositorySummary[];
  next: string | null;
}

export interface Namespace {
  name: string;
  repositories: number;
  size: number;
}

export interface TagSummary {
  tag: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  platforms: PlatformLike[];
  created: string | null;
  pushed: string | null;
  pushedBy: string | null;
  lastPulled: string | null;
  pulls: number;
  /** A stowage.immutable rule protects it: it cannot be deleted. */
  immutable: boolean;
}

export interface TagsPage {
  name: string;
  tags: TagSummary[];
  next: string | null;
}

export interface ImageBlob {
  digest: string;
  mediaType?: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
  createdBy?: string | null;
}

export interface HistoryEntry {
  created?: string | null;
  createdBy?: string | null;
  comment?: string | null;
  emptyLayer?: boolean;
  layer?: number | null;
}

export interface ImageConfig {
  created?: string | null;
  author?: string | null;
  os?: string | null;
  architecture?: string | null;
  variant?: string | null;
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  env?: string[] | null;
  exposedPorts?: string[] | null;
  workingDir?: string | null;
  user?: string | null;
  labels?: Record<string, string> | null;
  volumes?: string[] | null;
  history?: HistoryEntry[] | null;
}

export interface ImageChild {
  digest: string;
  mediaType: string | null;
  size: number;
  platform: PlatformLike | null;
  totalSize: number | null;
}

export interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageDetails {
  name: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  manifestSize: number;
  size: number;
  platforms: PlatformLike[];
  created: string | null;
  pushed: string | null;
  pushedBy: string | null;
  lastPulled: string | null;
  pulls: number;
  tag: { name: string; pushed: string | null; lastPulled: string | null; pulls: number } | null;
  tags: string[];
  config: ImageBlob | null;
  layers: ImageBlob[];
  children: ImageChild[];
  subject: string | null;
  referrers: Referrer[];
  annotations: Record<string, string>;
  image?: ImageConfig | null;
}

export interface ProxyUpstream extends Upstream {
  hits?: number;
  misses?: number;
  errors?: number;
  bytesFetched?: number;
  repositories?: number;
}

export interface Proxies {
  upstreams: ProxyUpstream[];
}

export interface Usage {
  storedBytes: number;
  logicalBytes: number;
  namespaces: Namespace[];
  repositories: Array<{ name: string; size: number; tags: number; manifests: number }>;
  reclaimable?: {
    untaggedManifests: number;
    untaggedBytes: number;
    unreferencedBlobs: number;
    unreferencedBytes: number;
    estimated: boolean;
  };
}

/** GET /admin/retention/plan: what a retention run would delete, and why (openapi RetentionReport). */
export interface RetentionDecision {
  tag: string;
  digest: string;
  reason: string;
}

export interface RetentionPlan {
  dryRun: boolean;
  evaluatedAt: string;
  repositories: Array<{
    repository: string;
    policy: number;
    tagsDeleted: RetentionDecision[];
    tagsKept: RetentionDecision[];
    manifestsDeleted: Array<{ digest: string; reason: string }>;
  }>;
  tagsDeleted: number;
  manifestsDeleted: number;
}
