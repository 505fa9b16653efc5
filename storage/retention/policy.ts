// Retention policies (`stowage.retention.policies`, zot's shape): which repositories a policy
// covers (globs, storage/grammar.ts) and the keeptags rules it keeps tags by (regular expressions
// over tag names plus counts and ages). This module compiles the settings and picks the policy of
// a repository; storage/retention/plan.ts decides, storage/retention/run.ts acts.
import { compileGlob } from '../grammar.js';

/** One keeptags rule as configured (durations already in milliseconds). */
export interface KeepTagsSettings {
  /** Regular expressions over tag names, unanchored as zot's (write ^ and $ to anchor). */
  patterns: string[];
  mostrecentlypushedcount?: number;
  mostrecentlypulledcount?: number;
  pushedwithinMs?: number;
  pulledwithinMs?: number;
}

/** One policy as configured. */
export interface RetentionPolicySettings {
  /** Globs over repository names: `*` within one component, `**` across. */
  repositories: string[];
  /** Also delete manifests that were untagged before the run (older than the grace period). */
  deleteuntagged: boolean;
  keeptags: KeepTagsSettings[];
}

export interface KeepTagsRule extends KeepTagsSettings {
  /** Numbered from 1 as the policy lists it. */
  number: number;
  matchers: RegExp[];
}

export interface RetentionPolicy {
  /** Numbered from 1 as the config lists it. */
  number: number;
  repositories: string[];
  deleteUntagged: boolean;
  keepTags: KeepTagsRule[];
  matchers: RegExp[];
}

/** Why a pattern is not a regular expression; undefined when it is one. */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export class RetentionPolicies {
  readonly policies: RetentionPolicy[];

  constructor(settings: RetentionPolicySettings[] = []) {
    this.policies = settings.map((policy, i) => ({
      number: i + 1,
      repositories: policy.repositories,
      deleteUntagged: policy.deleteuntagged,
      keepTags: policy.keeptags.map((rule, j) => ({ ...rule, number: j + 1, matchers: rule.patterns.map((p) => new RegExp(p)) })),
      matchers: policy.repositories.map(compileGlob),
    }));
  }

  /** The first policy covering the repository: when several do, the first listed applies. */
  policyFor(name: string): RetentionPolicy | undefined {
    return this.policies.find((p) => p.matchers.some((m) => m.test(name)));
  }
}
