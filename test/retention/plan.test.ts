// The retention planner's rules (storage/retention/plan.ts) on explicit facts and an explicit
// `now`: each keeptags field, OR within and across rules, counts with ties, the grace period,
// immutable tags, index children, referrers and untagged manifests.
import { describe, expect, it } from 'vitest';
import { planRepository, type ManifestFacts, type RepositoryFacts, type TagFacts } from '../../storage/retention/plan.js';
import { RetentionPolicies, type KeepTagsSettings, type RetentionPolicySettings } from '../../storage/retention/policy.js';

const H = 3_600_000;
const DAY = 24 * H;
const NOW = Date.UTC(2026, 5, 1);
const GRACE = H;

/** A digest from a short name, so facts read well. */
const d = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;

function tag(name: string, image: string, ageDays: number, pulledDaysAgo?: number): TagFacts {
  const t: TagFacts = { tag: name, digest: d(image), pushedAt: NOW - ageDays * DAY };
  if (pulledDaysAgo !== undefined) t.lastPulledAt = NOW - pulledDaysAgo * DAY;
  return t;
}

function manifest(image: string, ageDays: number, extra: Partial<ManifestFacts> = {}): ManifestFacts {
  return { digest: d(image), pushedAt: NOW - ageDays * DAY, pending: false, children: [], ...extra };
}

function policy(keeptags: Array<Partial<KeepTagsSettings>>, extra: Partial<RetentionPolicySettings> = {}) {
  const settings: RetentionPolicySettings = {
    repositories: ['**'],
    deleteuntagged: false,
    keeptags: keeptags.map((k) => ({ patterns: ['.*'], ...k })),
    ...extra,
  };
  return new RetentionPolicies([settings]).policies[0];
}

/** Facts where every tag has its own manifest named after it, pushed when the tag was. */
function facts(tags: TagFacts[], manifests: ManifestFacts[] = []): RepositoryFacts {
  const own = tags
    .filter((t) => !manifests.some((m) => m.digest === t.digest))
    .map((t) => manifest('', 0, { digest: t.digest, pushedAt: t.pushedAt }));
  const unique = new Map([...manifests, ...own].map((m) => [m.digest, m]));
  return { repository: 'team/app', tags, manifests: [...unique.values()] };
}

function plan(f: RepositoryFacts, p = policy([]), immutable?: (tag: string) => string | undefined) {
  return planRepository(f, p, { now: NOW, graceMs: GRACE, immutable });
}

const deleted = (p: ReturnType<typeof plan>) => p.tagsDeleted.map((t) => t.tag).sort();
const kept = (p: ReturnType<typeof plan>) => p.tagsKept.map((t) => t.tag).sort();

describe('retention planner: keeptags rules', () => {
  const tags = [tag('v1', 'v1', 50), tag('v2', 'v2', 40, 1), tag('v3', 'v3', 30, 20), tag('latest', 'latest', 10), tag('dev-1', 'dev-1', 5, 2)];

  it('keeps every tag a rule with only patterns matches, and deletes the tags no rule matches', () => {
    const p = plan(facts(tags), policy([{ patterns: ['^latest$'] }, { patterns: ['^dev-'] }]));
    expect(kept(p)).toEqual(['dev-1', 'latest']);
    expect(deleted(p)).toEqual(['v1', 'v2', 'v3']);
    expect(p.tagsDeleted.find((t) => t.tag === 'v1')!.reason).toBe('policy 1: no keeptags rule matches it');
    expect(p.tagsKept.find((t) => t.tag === 'latest')!.reason).toBe('policy 1 rule 1: matches ^latest$');
  });

  it('patterns are unanchored regular expressions, as zot reads them', () => {
    expect(kept(plan(facts(tags), policy([{ patterns: ['v'] }])))).toEqual(['dev-1', 'v1', 'v2', 'v3']);
  });

  it('mostrecentlypushedcount keeps the N most recently pushed of the matching tags', () => {
    const p = plan(facts(tags), policy([{ patterns: ['^v[0-9]+'], mostrecentlypushedcount: 2 }]));
    expect(kept(p)).toEqual(['v2', 'v3']);
    expect(deleted(p)).toEqual(['dev-1', 'latest', 'v1']);
    expect(p.tagsDeleted.find((t) => t.tag === 'v1')!.reason).toBe('policy 1: rule 1: not among the 2 most recently pushed');
    expect(p.tagsKept.find((t) => t.tag === 'v3')!.reason).toBe('policy 1 rule 1: among the 2 most recently pushed');
  });

  it('mostrecentlypulledcount keeps the N most recently pulled, and a tag never pulled is not among them', () => {
    const p = plan(facts(tags), policy([{ mostrecentlypulledcount: 2 }]));
    expect(kept(p)).toEqual(['dev-1', 'v2']);
    const one = plan(facts(tags), policy([{ mostrecentlypulledcount: 10 }]));
    expect(kept(one)).toEqual(['dev-1', 'v2', 'v3']);
  });

  it('pushedwithin keeps tags pushed within the duration before now, the boundary included', () => {
    const p = plan(facts([...tags, tag('edge', 'edge', 30)]), policy([{ pushedwithinMs: 30 * DAY }]));
    expect(kept(p)).toEqual(['dev-1', 'edge', 'latest', 'v3']);
    expect(p.tagsKept.find((t) => t.tag === 'latest')!.reason).toBe('policy 1 rule 1: pushed within 720h');
  });

  it('pulledwithin keeps tags pulled within the duration; never pulled is not', () => {
    const p = plan(facts(tags), policy([{ pulledwithinMs: 7 * DAY }]));
    expect(kept(p)).toEqual(['dev-1', 'v2']);
    expect(p.tagsDeleted.find((t) => t.tag === 'v3')!.reason).toBe('policy 1: rule 1: not pulled within 168h');
  });

  it('criteria of one rule are ORed: a tag either keeps is kept', () => {
    const p = plan(facts(tags), policy([{ patterns: ['^v'], mostrecentlypushedcount: 1, pulledwithinMs: 7 * DAY }]));
    // v3: most recently pushed v*; v2: pulled a day ago.
    expect(kept(p)).toEqual(['v2', 'v3']);
    expect(p.tagsDeleted.find((t) => t.tag === 'v1')!.reason).toBe('policy 1: rule 1: not among the 1 most recently pushed, not pulled within 168h');
  });

  it('rules are ORed: a tag any rule keeps is kept (the issue example)', () => {
    const p = plan(
      facts(tags),
      policy([{ patterns: ['^v[0-9]+'], mostrecentlypushedcount: 1 }, { patterns: ['.*'], pulledwithinMs: 720 * H }, { patterns: ['^latest$'] }]),
    );
    expect(kept(p)).toEqual(['dev-1', 'latest', 'v2', 'v3']);
    expect(deleted(p)).toEqual(['v1']);
    expect(p.tagsDeleted[0].reason).toBe('policy 1: rule 1: not among the 1 most recently pushed; rule 2: not pulled within 720h');
  });

  it('counts with ties in time keep exactly N, ties broken by tag name', () => {
    const tied = [tag('b', 'b', 10, 3), tag('a', 'a', 10, 3), tag('c', 'c', 10, 3), tag('old', 'old', 20, 4)];
    expect(kept(plan(facts(tied), policy([{ mostrecentlypushedcount: 2 }])))).toEqual(['a', 'b']);
    expect(kept(plan(facts(tied), policy([{ mostrecentlypulledcount: 1 }])))).toEqual(['a']);
    // Same facts, same plan, in whatever order the database lists them.
    expect(kept(plan(facts([...tied].reverse()), policy([{ mostrecentlypushedcount: 2 }])))).toEqual(['a', 'b']);
  });

  it('a count of zero keeps nothing by that criterion', () => {
    expect(kept(plan(facts(tags), policy([{ mostrecentlypushedcount: 0 }])))).toEqual([]);
  });

  it('a policy without keeptags keeps every tag', () => {
    const p = plan(facts(tags), policy([]));
    expect(deleted(p)).toEqual([]);
    expect(p.tagsKept[0].reason).toBe('policy 1 has no keeptags rules');
  });
});

describe('retention planner: never deleted', () => {
  it('keeps a tag pushed within the grace period whatever the rules say', () => {
    const young = { ...tag('young', 'young', 0), pushedAt: NOW - GRACE / 2 };
    const p = plan(facts([young, tag('old', 'old', 2)]), policy([{ patterns: ['^none$'] }]));
    expect(kept(p)).toEqual(['young']);
    expect(p.tagsKept[0].reason).toBe('pushed within the grace period (1h)');
    expect(deleted(p)).toEqual(['old']);
  });

  it('counts the grace period from the real time when evaluating as if later', () => {
    const young = { ...tag('young', 'young', 0), pushedAt: NOW - GRACE / 2 };
    const f = facts([young, tag('old', 'old', 2)]);
    const later = planRepository(f, policy([{ patterns: ['^none$'] }]), { now: NOW + 30 * DAY, realNow: NOW, graceMs: GRACE });
    expect(kept(later)).toEqual(['young']);
    expect(later.manifestsDeleted.map((m) => m.digest)).toEqual([d('old')]);
    // Without the real time, a month on, the young tag is old.
    expect(kept(planRepository(f, policy([{ patterns: ['^none$'] }]), { now: NOW + 30 * DAY, graceMs: GRACE }))).toEqual([]);
  });

  it('keeps an immutable tag, naming its rule', () => {
    const p = plan(facts([tag('v1', 'v1', 50), tag('x', 'x', 50)]), policy([{ patterns: ['^none$'] }]), (t) =>
      t === 'v1' ? 'stowage.immutable rule 1' : undefined,
    );
    expect(kept(p)).toEqual(['v1']);
    expect(p.tagsKept[0].reason).toBe('immutable (stowage.immutable rule 1)');
  });

  it('keeps a manifest pushed within the grace period and a pending push, even untagged with deleteuntagged', () => {
    const f = facts([], [manifest('recent', 0, { pushedAt: NOW - 10 }), manifest('pending', 5, { pending: true }), manifest('stale', 5)]);
    const p = plan(f, policy([], { deleteuntagged: true }));
    expect(p.manifestsDeleted).toEqual([{ digest: d('stale'), reason: 'untagged (policy 1 deleteuntagged)' }]);
  });
});

describe('retention planner: manifests', () => {
  it('deletes the manifest of a deleted tag, unless a kept tag points at it too', () => {
    const f = facts([tag('a', 'img1', 9), tag('b', 'img1', 9), tag('c', 'img2', 9), tag('keep', 'img2', 9)]);
    const p = plan(f, policy([{ patterns: ['^keep$'] }]));
    expect(deleted(p)).toEqual(['a', 'b', 'c']);
    expect(p.manifestsDeleted).toEqual([{ digest: d('img1'), reason: 'its tags were deleted (a, b)' }]);
  });

  it('keeps the children of a kept index, and deletes a deleted index before its children', () => {
    const f = facts(
      [tag('old', 'index1', 9), tag('new', 'index2', 9)],
      [
        manifest('index1', 9, { children: [d('amd64'), d('shared')] }),
        manifest('index2', 9, { children: [d('shared'), d('arm64')] }),
        manifest('amd64', 9),
        manifest('arm64', 9),
        manifest('shared', 9),
      ],
    );
    const p = plan(f, policy([{ patterns: ['^new$'] }]));
    expect(p.manifestsDeleted).toEqual([
      { digest: d('index1'), reason: 'its tags were deleted (old)' },
      { digest: d('amd64'), reason: `listed only by index ${d('index1')}, which is deleted`, parents: [d('index1')] },
    ]);
  });

  it('keeps the referrers of a kept manifest and deletes those of a deleted one after it', () => {
    const f = facts(
      [tag('gone', 'img1', 9), tag('kept', 'img2', 9)],
      [
        manifest('img1', 9),
        manifest('img2', 9),
        manifest('sig1', 9, { subject: d('img1') }),
        manifest('sbom1', 9, { subject: d('sig1') }),
        manifest('sig2', 9, { subject: d('img2') }),
      ],
    );
    const p = plan(f, policy([{ patterns: ['^kept$'] }]));
    expect(p.manifestsDeleted.map((m) => m.digest)).toEqual([d('img1'), d('sig1'), d('sbom1')]);
    expect(p.manifestsDeleted[1].reason).toBe(`referrer of ${d('img1')}, which is deleted`);
  });

  it('leaves manifests untagged before the run (and what they reach) alone without deleteuntagged', () => {
    const f = facts(
      [tag('gone', 'index1', 9)],
      [
        manifest('index1', 9, { children: [d('child')] }),
        manifest('orphan-index', 9, { children: [d('child')] }),
        manifest('child', 9),
        manifest('loose', 9),
      ],
    );
    const without = plan(f, policy([{ patterns: ['^none$'] }]));
    expect(without.manifestsDeleted.map((m) => m.digest)).toEqual([d('index1')]);
    const withUntagged = plan(f, policy([{ patterns: ['^none$'] }], { deleteuntagged: true }));
    expect(withUntagged.manifestsDeleted.map((m) => m.digest).sort()).toEqual([d('child'), d('index1'), d('loose'), d('orphan-index')].sort());
  });
});

describe('retention policies', () => {
  it('apply the first policy whose repository globs cover the name, and none to a name no policy covers', () => {
    const policies = new RetentionPolicies([
      { repositories: ['team/**'], deleteuntagged: false, keeptags: [] },
      { repositories: ['team/app', 'other/*'], deleteuntagged: true, keeptags: [] },
    ]);
    expect(policies.policyFor('team/app')?.number).toBe(1);
    expect(policies.policyFor('team')?.number).toBe(1);
    expect(policies.policyFor('other/x')?.number).toBe(2);
    expect(policies.policyFor('other/x/y')).toBeUndefined();
    expect(policies.policyFor('elsewhere')).toBeUndefined();
  });
});
