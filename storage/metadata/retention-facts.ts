// What the retention planner (storage/retention/plan.ts) needs of a repository, read from the
// metadata database: its tags with push and pull times, its manifests with their references.
// A tag's pull time is the latest pull of its manifest, through the tag or by digest, so an
// image deployed by digest counts as in use.
import type { MetadataStore } from './metadata-store.js';
import type { RepositoryFacts, TagFacts } from '../retention/plan.js';

export async function retentionFacts(metadata: MetadataStore, repository: string): Promise<RepositoryFacts> {
  const repositoryId = await metadata.repositoryId(repository);
  if (repositoryId === undefined) return { repository, tags: [], manifests: [] };
  const rows = await metadata.database.db
    .selectFrom('tags')
    .innerJoin('manifests', 'manifests.id', 'tags.manifest_id')
    .select([
      'tags.name',
      'manifests.digest',
      'tags.pushed_at',
      'tags.last_pulled_at as tag_pulled_at',
      'manifests.last_pulled_at as manifest_pulled_at',
    ])
    .where('tags.repository_id', '=', repositoryId)
    .execute();
  const tags = rows.map((row): TagFacts => {
    const pulls = [row.tag_pulled_at, row.manifest_pulled_at].filter((t) => t !== null).map(Number);
    const facts: TagFacts = { tag: row.name, digest: row.digest, pushedAt: Number(row.pushed_at) };
    if (pulls.length > 0) facts.lastPulledAt = Math.max(...pulls);
    return facts;
  });
  const manifests = (await metadata.manifestGraph(repository)).map((m) => {
    const facts: RepositoryFacts['manifests'][number] = {
      digest: m.digest,
      pushedAt: m.pushedAt,
      pending: m.state === 'pending',
      children: m.children,
    };
    if (m.subject) facts.subject = m.subject;
    return facts;
  });
  return { repository, tags, manifests };
}

/** Whether any tag of the repository points at the manifest now (re-checked before deleting it). */
export async function isTagged(metadata: MetadataStore, repository: string, digest: string): Promise<boolean> {
  const repositoryId = await metadata.repositoryId(repository);
  if (repositoryId === undefined) return false;
  const row = await metadata.database.db
    .selectFrom('tags')
    .innerJoin('manifests', 'manifests.id', 'tags.manifest_id')
    .select('tags.name')
    .where('tags.repository_id', '=', repositoryId)
    .where('manifests.digest', '=', digest)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
