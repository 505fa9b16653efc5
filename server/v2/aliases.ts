// Short names: `stowage.aliases` maps a repository name, or a prefix written `tools/*`, to a
// longer local or proxied name (`busybox -> dockerhub/library/busybox`, `base/* -> team/base/*`).
// Requests through an alias read the target's manifests and blobs (digests unchanged); writes
// are refused unless the alias is writable. Chains resolve; a loop is a start-up error.
import { assertName, isValidName } from '../../storage/grammar.js';
import { compareLexically } from '../../storage/manifests.js';
import { RegistryError } from '../../errors/registry-error.js';
import { ConfigError, type RegistryConfig } from '../config.js';

export type AliasSetting = RegistryConfig['stowage']['aliases'][string];

interface AliasRule {
  /** The exact name, or the prefix before "/*". */
  from: string;
  to: string;
  prefix: boolean;
  writable: boolean;
}

export interface ResolvedAlias {
  /** The repository the request really goes to. */
  name: string;
  /** Whether every alias on the way allows writes. */
  writable: boolean;
}

const MAX_CHAIN = 16;

function parseRule(from: string, setting: AliasSetting): AliasRule {
  const target = typeof setting === 'string' ? setting : setting.target;
  const writable = typeof setting === 'string' ? false : (setting.writable ?? false);
  const prefix = from.endsWith('/*');
  if (prefix !== target.endsWith('/*')) {
    throw new ConfigError(`stowage.aliases.${from}: a prefix alias ("x/*") needs a prefix target ("y/*"), and an exact one an exact target`);
  }
  const source = prefix ? from.slice(0, -2) : from;
  const destination = prefix ? target.slice(0, -2) : target;
  for (const [key, name] of [
    [from, source],
    [target, destination],
  ] as const) {
    if (!isValidName(name)) throw new ConfigError(`stowage.aliases.${from}: "${key}" is not a valid repository name`);
  }
  return { from: source, to: destination, prefix, writable };
}

/** Refuses a write through a read-only alias (the dispatcher and `stowage rm` alike). */
export function refuseAliasWrite(name: string, alias: ResolvedAlias | undefined): void {
  if (alias && !alias.writable) {
    throw new RegistryError('DENIED', `${name} is an alias of ${alias.name} and does not accept writes`, { detail: { name, target: alias.name } });
  }
}

export class Aliases {
  private readonly exact = new Map<string, AliasRule>();
  private readonly prefixes: AliasRule[];

  constructor(settings: Record<string, AliasSetting> = {}) {
    const rules = Object.entries(settings).map(([from, setting]) => parseRule(from, setting));
    for (const rule of rules) if (!rule.prefix) this.exact.set(rule.from, rule);
    // Longest prefix first, so "a/b/*" wins over "a/*".
    this.prefixes = rules.filter((r) => r.prefix).sort((a, b) => b.from.length - a.from.length);
    for (const rule of rules) this.resolve(rule.prefix ? `${rule.from}/probe` : rule.from);
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.length === 0;
  }

  private step(name: string): AliasRule | undefined {
    const exact = this.exact.get(name);
    if (exact) return exact;
    return this.prefixes.find((r) => name.startsWith(`${r.from}/`));
  }

  /** Where a name really points, or undefined when it is no alias. Throws ConfigError on a loop. */
  resolve(name: string): ResolvedAlias | undefined {
    let current = name;
    let writable = true;
    const seen = new Set([name]);
    for (let i = 0; i < MAX_CHAIN; i++) {
      const rule = this.step(current);
      if (!rule) return current === name ? undefined : { name: assertName(current), writable };
      current = rule.prefix ? `${rule.to}${current.slice(rule.from.length)}` : rule.to;
      writable &&= rule.writable;
      if (seen.has(current)) throw new ConfigError(`stowage.aliases: "${name}" leads to a loop (${[...seen, current].join(' -> ')})`);
      seen.add(current);
    }
    throw new ConfigError(`stowage.aliases: "${name}" goes through more than ${MAX_CHAIN} aliases`);
  }

  /** The alias names to list beside the real repositories: exact aliases whose target exists,
   *  and every repository under a prefix target seen through its alias prefix. */
  /** What _catalog and the status page list: the stored repositories and their aliases, sorted. */
  withAliases(repositories: string[]): string[] {
    if (this.empty) return repositories;
    return [...new Set([...repositories, ...this.listed(repositories)])].sort(compareLexically);
  }

  listed(repositories: string[]): string[] {
    const present = new Set(repositories);
    const names = new Set<string>();
    for (const rule of this.exact.values()) {
      const target = this.resolve(rule.from);
      if (target && present.has(target.name)) names.add(rule.from);
    }
    for (const rule of this.prefixes) {
      for (const repository of repositories) {
        if (repository.startsWith(`${rule.to}/`)) {
          const alias = `${rule.from}${repository.slice(rule.to.length)}`;
          if (isValidName(alias) && this.resolve(alias)?.name === repository) names.add(alias);
        }
      }
    }
    return [...names];
  }
}
