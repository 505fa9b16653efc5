// Which tags may never move or go (`stowage.immutable`): each rule names repositories and tags by
// glob (the access rules' matcher, storage/grammar.ts). This module only answers "is it protected,
// by which rule" and words the refusal; the manifest store (storage/manifests.ts) enforces it on
// every tag write and delete, and the metadata database arbitrates concurrent first writes.
import { RegistryError } from '../errors/registry-error.js';
import { compileGlob } from './grammar.js';

export interface ImmutableTagRule {
  /** Globs over repository names: `*` within one component, `**` across. */
  repositories: string[];
  /** Globs over tag names: `*` any run of characters, `?` one. */
  tags: string[];
}

/** A rule that protects a tag, numbered from 1 as the config lists it. */
export interface MatchedRule {
  number: number;
  rule: ImmutableTagRule;
}

interface CompiledRule extends MatchedRule {
  repositories: RegExp[];
  tags: RegExp[];
}

/** What a repository or tag glob may hold: the grammar's characters, `*` and `?`. */
export const REPOSITORY_GLOB_RE = /^[a-z0-9._/*?-]+$/;
export const TAG_GLOB_RE = /^[a-zA-Z0-9._*?-]{1,128}$/;

export class ImmutableTags {
  private readonly rules: CompiledRule[];

  constructor(rules: ImmutableTagRule[] = []) {
    this.rules = rules.map((rule, i) => ({
      number: i + 1,
      rule,
      repositories: rule.repositories.map(compileGlob),
      tags: rule.tags.map(compileGlob),
    }));
  }

  /** Whether any rule covers the repository (else its tags need no look-up at all). */
  coversRepository(name: string): boolean {
    return this.rules.some((r) => r.repositories.some((p) => p.test(name)));
  }

  /** The first rule protecting the tag of that repository, if any. */
  ruleFor(name: string, tag: string): MatchedRule | undefined {
    return this.rules.find((r) => r.repositories.some((p) => p.test(name)) && r.tags.some((p) => p.test(tag)));
  }

  /** 403 DENIED naming the tag and the rule (detail: repository, tag, rule). */
  static refusal(name: string, tag: string, matched: MatchedRule): RegistryError {
    const { repositories, tags } = matched.rule;
    const ruleText = `stowage.immutable rule ${matched.number}: ${repositories.join(',')} ${tags.join(',')}`;
    return new RegistryError('DENIED', `tag ${tag} of ${name} is immutable (${ruleText})`, {
      detail: { repository: name, tag, rule: { number: matched.number, repositories, tags } },
    });
  }
}
