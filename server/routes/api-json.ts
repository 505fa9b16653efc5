// The JSON API's answers as the browser and `stowage ls` read them: times as ISO strings, absent
// values as null, one shape per kind of thing (openapi.yaml describes each).
import type { ImageDetails } from '../../storage/image-details.js';
import type { ImageConfig } from '../../storage/image-config.js';
import type { ManifestSummary, RepositorySummary, TagSummary } from '../../storage/metadata/metadata-queries.js';

export function time(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** The first path segment of a name with one ("team" of team/app), else null. */
export function namespaceOf(name: string): string | null {
  const slash = name.indexOf('/');
  return slash < 0 ? null : name.slice(0, slash);
}

export function repositoryJson(r: RepositorySummary) {
  return {
    name: r.name,
    namespace: namespaceOf(r.name),
    size: r.size,
    tags: r.tags,
    manifests: r.manifests,
    lastPushed: time(r.lastPushedAt),
    lastPulled: time(r.lastPulledAt),
  };
}

/** What a tag's row and an image share: the manifest's facts, times and pulls. */
function manifestJson(m: ManifestSummary | TagSummary) {
  return {
    digest: m.digest,
    mediaType: m.mediaType,
    artifactType: m.artifactType ?? null,
    size: m.size,
    platforms: m.platforms,
    created: m.created ?? null,
    pushed: time(m.pushedAt),
    pushedBy: m.pushedBy ?? null,
    lastPulled: time(m.lastPulledAt),
    pulls: m.pullCount,
  };
}

/** immutable: a `stowage.immutable` rule protects the tag (the web UI offers no delete for it). */
export function tagJson(t: TagSummary, immutable: boolean) {
  return { tag: t.tag, ...manifestJson(t), immutable };
}

function imageConfigJson(c: ImageConfig) {
  return {
    created: c.created ?? null,
    author: c.author ?? null,
    os: c.os ?? null,
    architecture: c.architecture ?? null,
    variant: c.variant ?? null,
    entrypoint: c.entrypoint ?? null,
    cmd: c.cmd ?? null,
    env: c.env,
    exposedPorts: c.exposedPorts,
    workingDir: c.workingDir ?? null,
    user: c.user ?? null,
    labels: c.labels,
    volumes: c.volumes,
    history: c.history.map((h) => ({
      created: h.created ?? null,
      createdBy: h.createdBy ?? null,
      comment: h.comment ?? null,
      emptyLayer: h.emptyLayer,
      layer: h.layer ?? null,
    })),
  };
}

export function imageJson(d: ImageDetails) {
  return {
    name: d.name,
    ...manifestJson(d),
    manifestSize: d.manifestSize,
    tag: d.tag ? { name: d.tag.name, pushed: time(d.tag.pushedAt), lastPulled: time(d.tag.lastPulledAt), pulls: d.tag.pullCount } : null,
    tags: d.tags,
    config: d.config ?? null,
    image: d.image ? imageConfigJson(d.image) : null,
    layers: d.layers.map(({ createdBy, ...layer }) => ({ ...layer, createdBy: createdBy ?? null })),
    children: d.children.map((c) => ({
      digest: c.digest,
      mediaType: c.mediaType ?? null,
      size: c.size,
      platform: c.platform ?? null,
      totalSize: c.manifest?.size ?? null,
    })),
    subject: d.subject ?? null,
    referrers: d.referrers,
    annotations: d.annotations ?? {},
  };
}
