// The retention planner: from what the metadata database knows of one repository (tags with their
// push and pull times, manifests with their references) and the policy covering it, decides which
// tags go and which manifests nothing kept references any more, each with its reason. Pure: no
// storage, no clock (the caller passes `now`), so every rule is tested with explicit times.
//
// Never deleted: a tag or manifest pushed within the grace period, an immutable tag, a manifest a
// kept tag reaches through index children or as a referrer (signatures, SBOMs) of a kept manifest,
// a manifest whose push is still pending. A tag is kept if any keeptags rule keeps it (zot's
// semantics): a rule's patterns select tags; a rule without criteria keeps them all, otherwise
// each criterion keeps its own (OR). Without deleteuntagged, manifests that were untagged before
// the run, and what they reach, are left alone: only what this run's tag deletions orphan goes.
import type { KeepTagsRule, RetentionPolicy } from './policy.js';

export interface TagFacts {
  tag: string;
  digest: string;
  /** When the tag was last pointed at its manifest (ms). */
  pushedAt: number;
  /** The latest pull of its manifest, through the tag or by digest (ms); undefined if never pulled. */
  lastPulledAt?: number;
}

export interface ManifestFacts {
  digest: string;
  pushedAt: number;
  /** A push still in flight: never deleted. */
  pending: boolean;
  /** The manifest it is a referrer of. */
  subject?: string;
  /** Child manifests (of an index). */
  children: string[];
}

export interface RepositoryFacts {
  repository: string;
  tags: TagFacts[];
  manifests: ManifestFacts[];
}

export interface PlanOptions {
  /** The time the policies are evaluated at (ms). */
  now: number;
  /** Anything pushed within this many ms before now is kept. */
  graceMs: number;
  /**
   * The clock's real time, when `now` is another (a preview of next month): the grace period
   * then counts back from the earlier of the two, so a real push is never too recent to keep.
   */
  realNow?: number;
  /** The immutability rule protecting a tag (its description), if any. */
  immutable?: (tag: string) => string | undefined;
}

export interface TagDecision {
  tag: string;
  digest: string;
  reason: string;
}

export interface ManifestDecision {
  digest: string;
  reason: string;
  /** The deleted manifests that reference it (its indexes, its subject): if one stays, it stays. */
  parents?: string[];
}

export interface RepositoryPlan {
  repository: string;
  /** The policy's number in stowage.retention.policies (from 1). */
  policy: number;
  tagsDeleted: TagDecision[];
  tagsKept: TagDecision[];
  /** In an order that deletes an index before its children and a subject before its referrers. */
  manifestsDeleted: ManifestDecision[];
}

/** "720h", "90m", "30s", "1500ms": how the reasons write durations. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Most recent first; ties in time broken by tag name, so the same facts give the same plan. */
function byRecency(time: (t: TagFacts) => number) {
  return (a: TagFacts, b: TagFacts) => time(b) - time(a) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
}

/** The tags a rule keeps, each with why (the first criterion that keeps it). */
function keptByRule(rule: KeepTagsRule, tags: TagFacts[], now: number): Map<string, string> {
  const kept = new Map<string, string>();
  const selected = tags.filter((t) => rule.matchers.some((m) => m.test(t.tag)));
  const keep = (t: TagFacts, why: string) => {
    if (!kept.has(t.tag)) kept.set(t.tag, `rule ${rule.number}: ${why}`);
  };
  const criteria =
    rule.mostrecentlypushedcount !== undefined ||
    rule.mostrecentlypulledcount !== undefined ||
    rule.pushedwithinMs !== undefined ||
    rule.pulledwithinMs !== undefined;
  if (!criteria) {
    for (const t of selected) keep(t, `matches ${rule.patterns.join(' or ')}`);
    return kept;
  }
  if (rule.mostrecentlypushedcount !== undefined) {
    const n = rule.mostrecentlypushedcount;
    for (const t of [...selected].sort(byRecency((x) => x.pushedAt)).slice(0, n)) keep(t, `among the ${n} most recently pushed`);
  }
  if (rule.mostrecentlypulledcount !== undefined) {
    // A tag never pulled is not among the most recently pulled.
    const n = rule.mostrecentlypulledcount;
    const pulled = selected.filter((t) => t.lastPulledAt !== undefined);
    for (const t of pulled.sort(byRecency((x) => x.lastPulledAt!)).slice(0, n)) keep(t, `among the ${n} most recently pulled`);
  }
  if (rule.pushedwithinMs !== undefined) {
    const since = now - rule.pushedwithinMs;
    for (const t of selected) if (t.pushedAt >= since) keep(t, `pushed within ${formatDuration(rule.pushedwithinMs)}`);
  }
  if (rule.pulledwithinMs !== undefined) {
    const since = now - rule.pulledwithinMs;
    for (const t of selected) {
      if (t.lastPulledAt !== undefined && t.lastPulledAt >= since) keep(t, `pulled within ${formatDuration(rule.pulledwithinMs)}`);
    }
  }
  return kept;
}

/** Why no rule keeps a tag, rule by rule. */
function deletionReason(policy: RetentionPolicy, tag: string): string {
  const matching = policy.keepTags.filter((rule) => rule.matchers.some((m) => m.test(tag)));
  if (matching.length === 0) return `policy ${policy.number}: no keeptags rule matches it`;
  const why = matching.map((rule) => {
    const misses: string[] = [];
    if (rule.mostrecentlypushedcount !== undefined) misses.push(`not among the ${rule.mostrecentlypushedcount} most recently pushed`);
    if (rule.mostrecentlypulledcount !== undefined) misses.push(`not among the ${rule.mostrecentlypulledcount} most recently pulled`);
    if (rule.pushedwithinMs !== undefined) misses.push(`not pushed within ${formatDuration(rule.pushedwithinMs)}`);
    if (rule.pulledwithinMs !== undefined) misses.push(`not pulled within ${formatDuration(rule.pulledwithinMs)}`);
    return `rule ${rule.number}: ${misses.join(', ')}`;
  });
  return `policy ${policy.number}: ${why.join('; ')}`;
}

/** Every manifest reachable from roots through index children and referrers. */
function closure(roots: Iterable<string>, edges: Map<string, string[]>): Set<string> {
  const reached = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const digest = pending.pop()!;
    if (reached.has(digest)) continue;
    reached.add(digest);
    pending.push(...(edges.get(digest) ?? []));
  }
  return reached;
}

export function planRepository(facts: RepositoryFacts, policy: RetentionPolicy, options: PlanOptions): RepositoryPlan {
  const { now } = options;
  const recentSince = Math.min(now, options.realNow ?? now) - Math.max(0, options.graceMs);
  const tagsKept: TagDecision[] = [];
  const tagsDeleted: TagDecision[] = [];

  // Which rule keeps each tag: the grace period and immutability first, then the keeptags rules.
  const byRules = new Map<string, string>();
  for (const rule of policy.keepTags) {
    for (const [tag, why] of keptByRule(rule, facts.tags, now)) if (!byRules.has(tag)) byRules.set(tag, why);
  }
  for (const t of [...facts.tags].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))) {
    const immutable = options.immutable?.(t.tag);
    let reason: string | undefined;
    if (t.pushedAt > recentSince) reason = `pushed within the grace period (${formatDuration(options.graceMs)})`;
    else if (immutable !== undefined) reason = `immutable (${immutable})`;
    else if (policy.keepTags.length === 0) reason = `policy ${policy.number} has no keeptags rules`;
    else reason = byRules.get(t.tag);
    if (reason !== undefined)
      tagsKept.push({ tag: t.tag, digest: t.digest, reason: reason.startsWith('rule') ? `policy ${policy.number} ${reason}` : reason });
    else tagsDeleted.push({ tag: t.tag, digest: t.digest, reason: deletionReason(policy, t.tag) });
  }

  // Manifests: what the kept tags, recent and pending pushes reach stays; the rest goes if this
  // run orphaned it (or, with deleteuntagged, whatever it is).
  const known = new Map(facts.manifests.map((m) => [m.digest, m]));
  const edges = new Map<string, string[]>();
  for (const m of facts.manifests) {
    edges.set(m.digest, [...(edges.get(m.digest) ?? []), ...m.children.filter((c) => known.has(c))]);
    // A referrer follows its subject.
    if (m.subject !== undefined && known.has(m.subject)) edges.set(m.subject, [...(edges.get(m.subject) ?? []), m.digest]);
  }
  const alwaysKept = facts.manifests.filter((m) => m.pending || m.pushedAt > recentSince).map((m) => m.digest);
  const reachedBefore = closure([...alwaysKept, ...facts.tags.map((t) => t.digest)], edges);
  const roots = [...alwaysKept, ...tagsKept.map((t) => t.digest)];
  if (!policy.deleteUntagged) roots.push(...facts.manifests.filter((m) => !reachedBefore.has(m.digest)).map((m) => m.digest));
  const reachedAfter = closure(roots, edges);
  const doomed = new Set(facts.manifests.filter((m) => !reachedAfter.has(m.digest)).map((m) => m.digest));

  const deletedTagsOf = new Map<string, string[]>();
  for (const t of tagsDeleted) deletedTagsOf.set(t.digest, [...(deletedTagsOf.get(t.digest) ?? []), t.tag]);
  const reasonFor = (m: ManifestFacts): string => {
    const tags = deletedTagsOf.get(m.digest);
    if (tags) return `its tags were deleted (${tags.join(', ')})`;
    if (m.subject !== undefined && doomed.has(m.subject)) return `referrer of ${m.subject}, which is deleted`;
    const parent = facts.manifests.find((p) => doomed.has(p.digest) && p.children.includes(m.digest));
    if (parent) return `listed only by index ${parent.digest}, which is deleted`;
    return `untagged (policy ${policy.number} deleteuntagged)`;
  };

  // Parents first: an index before its children, a subject before its referrers.
  const incoming = new Map<string, number>([...doomed].map((d) => [d, 0]));
  for (const d of doomed) for (const next of edges.get(d) ?? []) if (doomed.has(next)) incoming.set(next, incoming.get(next)! + 1);
  const ready = [...doomed].filter((d) => incoming.get(d) === 0).sort();
  const parentsOf = new Map<string, string[]>();
  for (const d of doomed) for (const next of edges.get(d) ?? []) if (doomed.has(next)) parentsOf.set(next, [...(parentsOf.get(next) ?? []), d]);
  const decision = (digest: string): ManifestDecision => {
    const parents = parentsOf.get(digest);
    return parents ? { digest, reason: reasonFor(known.get(digest)!), parents } : { digest, reason: reasonFor(known.get(digest)!) };
  };
  const manifestsDeleted: ManifestDecision[] = [];
  const placed = new Set<string>();
  while (ready.length > 0) {
    const digest = ready.shift()!;
    placed.add(digest);
    manifestsDeleted.push(decision(digest));
    for (const next of edges.get(digest) ?? []) {
      if (!doomed.has(next)) continue;
      incoming.set(next, incoming.get(next)! - 1);
      if (incoming.get(next) === 0) ready.push(next);
    }
  }
  // A cycle cannot occur with content addressing; should one, its members still go, last.
  for (const digest of [...doomed].sort()) if (!placed.has(digest)) manifestsDeleted.push(decision(digest));

  return { repository: facts.repository, policy: policy.number, tagsDeleted, tagsKept, manifestsDeleted };
}
