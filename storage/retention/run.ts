// Runs the retention policies over the registry: for each repository a policy covers, plans
// (storage/retention/plan.ts) from the metadata database, then, unless a dry run, deletes the tags,
// then the manifests, through the Repository interface the API uses (so the database, caches,
// replicas and notifications stay consistent), then collects garbage so the blobs are freed.
// The report is the one list of what was (or would be) deleted and why; onDelete hears each
// deletion as it happens (the audit log).
import { RegistryError } from '../../errors/registry-error.js';
import type { RegistryStorage } from '../registry.js';
import { SYSTEM_ORIGIN, type AuditOrigin } from '../audit-log.js';
import type { Repository } from '../repository.js';
import { GcBusyError, collectGarbage, DEFAULT_GC_GRACE_MS } from '../jobs/gc.js';
import { isTagged, retentionFacts } from '../metadata/retention-facts.js';
import { planRepository, type ManifestDecision, type RepositoryPlan, type TagDecision } from './plan.js';
import type { RetentionPolicies } from './policy.js';

/** One deletion, as onDelete hears it. */
export interface RetentionDeletion {
  repository: string;
  /** Set for a tag deletion; absent for a manifest's. */
  tag?: string;
  digest: string;
  reason: string;
}

export interface RetentionOptions {
  policies: RetentionPolicies;
  /** Plan and report only. */
  dryRun?: boolean;
  /** The time the policies are evaluated at (ms); default now. */
  now?: number;
  /** Anything pushed within this many ms before `now` is kept (stowage.gc.grace); also the collection's grace. */
  graceMs?: number;
  /** Repositories never touched (the pull-through cache's, which has its own eviction). */
  skip?: (name: string) => boolean;
  /** The repository deletions go through (default storage.repository(name)). */
  repository?: (name: string) => Repository;
  /** Passed on to the garbage collection that follows a real run (stowage.gc.deleteuntagged). */
  gcDeleteUntagged?: boolean;
  /** Called after each deletion, in order (after it is in the audit log). */
  onDelete?: (deletion: RetentionDeletion) => void | Promise<void>;
  /** Who the audit log names for the deletions and the collection (default the registry itself). */
  origin?: AuditOrigin;
}

/** Something planned that a real run left alone, and why (changed since it was planned). */
export interface RetentionSkip {
  repository: string;
  tag?: string;
  digest: string;
  reason: string;
}

export interface RetentionReport {
  dryRun: boolean;
  /** When the policies were evaluated (ISO 8601). */
  evaluatedAt: string;
  /** Repositories a policy covers (and so were planned), with what goes and what stays. */
  repositories: RepositoryPlan[];
  tagsDeleted: number;
  manifestsDeleted: number;
  /** Planned deletions a real run did not make because things changed meanwhile. */
  skipped: RetentionSkip[];
  /** The collection after a real run: blobs freed, or why it did not run. */
  gc?: { blobsDeleted: number; bytesFreed: number; manifestsDeleted: number } | { skipped: string };
}

export async function runRetention(storage: RegistryStorage, options: RetentionOptions): Promise<RetentionReport> {
  const metadata = storage.metadata;
  if (!metadata) throw new RegistryError('UNSUPPORTED', 'retention needs the metadata database (stowage.database)');
  const dryRun = options.dryRun ?? false;
  // Every deletion of a real run is in the audit log, with the rule that let it go.
  const deleted = async (deletion: RetentionDeletion) => {
    storage.audit.record({
      ...(options.origin ?? SYSTEM_ORIGIN),
      action: 'retention-delete',
      repository: deletion.repository,
      reference: deletion.tag,
      digest: deletion.digest,
      detail: deletion.reason,
    });
    await options.onDelete?.(deletion);
  };
  const now = options.now ?? Date.now();
  const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
  const open = options.repository ?? ((name: string) => storage.repository(name));
  // Pull times batched in memory go in first, so the plan sees them.
  await storage.pulls?.flush();
  const report: RetentionReport = {
    dryRun,
    evaluatedAt: new Date(now).toISOString(),
    repositories: [],
    tagsDeleted: 0,
    manifestsDeleted: 0,
    skipped: [],
  };
  for (const name of (await metadata.listRepositories()).items) {
    if (options.skip?.(name)) continue;
    const policy = options.policies.policyFor(name);
    if (!policy) continue;
    const facts = await retentionFacts(metadata, name);
    const plan = planRepository(facts, policy, {
      now,
      realNow: Date.now(),
      graceMs,
      immutable: (tag) => {
        const matched = storage.immutable.ruleFor(name, tag);
        return matched && `stowage.immutable rule ${matched.number}`;
      },
    });
    report.repositories.push(plan);
    if (dryRun) {
      report.tagsDeleted += plan.tagsDeleted.length;
      report.manifestsDeleted += plan.manifestsDeleted.length;
      continue;
    }
    const repository = open(name);
    for (const decision of plan.tagsDeleted) {
      if (await deleteTag(storage, repository, decision, report)) await deleted({ repository: name, ...decision });
    }
    // A manifest left alone keeps what it references: its children and referrers stay too.
    const spared = new Set<string>();
    for (const decision of plan.manifestsDeleted) {
      const { parents, ...deletion } = decision;
      const parent = parents?.find((p) => spared.has(p));
      if (parent !== undefined) {
        spared.add(decision.digest);
        report.skipped.push({ repository: name, digest: decision.digest, reason: `${parent}, which references it, was left alone` });
      } else if (await deleteManifest(storage, repository, decision, report)) await deleted({ repository: name, ...deletion });
      else spared.add(decision.digest);
    }
  }
  if (!dryRun) {
    try {
      const gc = await collectGarbage(storage, { gracePeriodMs: graceMs, deleteUntagged: options.gcDeleteUntagged, origin: options.origin });
      report.gc = { blobsDeleted: gc.blobsDeleted.length, bytesFreed: gc.bytesFreed, manifestsDeleted: gc.manifestsDeleted.length };
    } catch (err) {
      if (!(err instanceof GcBusyError)) throw err;
      // The running collection, or the next one, frees the blobs.
      report.gc = { skipped: err.message };
    }
  }
  return report;
}

/** True when deleted; a tag moved or gone since it was planned is left alone and reported. */
async function deleteTag(storage: RegistryStorage, repository: Repository, decision: TagDecision, report: RetentionReport): Promise<boolean> {
  const skip = (reason: string) => report.skipped.push({ repository: repository.name, tag: decision.tag, digest: decision.digest, reason });
  if ((await storage.metadata!.tagTarget(repository.name, decision.tag)) !== decision.digest) {
    skip('the tag was moved or deleted since it was planned');
    return false;
  }
  try {
    await repository.manifests.delete(decision.tag);
  } catch (err) {
    if (!(err instanceof RegistryError) || (err.code !== 'MANIFEST_UNKNOWN' && err.code !== 'DENIED')) throw err;
    skip(`${err.code}: ${err.message}`);
    return false;
  }
  report.tagsDeleted++;
  return true;
}

/** True when deleted; a manifest tagged again since it was planned is left alone and reported. */
async function deleteManifest(
  storage: RegistryStorage,
  repository: Repository,
  decision: ManifestDecision,
  report: RetentionReport,
): Promise<boolean> {
  const skip = (reason: string) => report.skipped.push({ repository: repository.name, digest: decision.digest, reason });
  if (await isTagged(storage.metadata!, repository.name, decision.digest)) {
    skip('the manifest was tagged since it was planned');
    return false;
  }
  try {
    await repository.manifests.delete(decision.digest);
  } catch (err) {
    if (!(err instanceof RegistryError) || (err.code !== 'MANIFEST_UNKNOWN' && err.code !== 'DENIED')) throw err;
    skip(`${err.code}: ${err.message}`);
    return false;
  }
  report.manifestsDeleted++;
  return true;
}
