// Storage limits per group of repositories (`stowage.quotas`): each quota names repositories by
// glob (storage/grammar.ts) and the bytes they may hold together. Usage is the deduplicated size
// of the blobs the covered repositories' ready manifests reference (a blob several of them share
// counts once; a repository several quotas cover counts in each). The SQL is
// storage/metadata/quota-queries.ts; the manifest store (storage/manifests.ts) asks admitManifest
// around every push, the repository (storage/local-repository.ts) admitUpload when an upload starts.
//
// What holds: within one process, the check of a push and its link (revision, tag, database
// commit) run under a per-quota lock, so two pushes that each fit alone but not together cannot
// both succeed. Across processes (replicas, `stowage retag` beside the server) nothing serialises
// them: each checks what the database has committed, so pushes at the same moment through
// different processes may overshoot a quota by at most what they add together; the next push
// sees the total and is refused.
import { RegistryError } from '../errors/registry-error.js';
import { compileGlob } from './grammar.js';
import { KeyedLock } from './keyed-lock.js';
import type { Descriptor } from './manifest-format.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { QuotaQueries } from './metadata/quota-queries.js';
import { CostlyAggregate } from './metadata/costly-aggregate.js';

export interface QuotaRule {
  /** Globs over repository names: `*` within one component, `**` across. */
  repositories: string[];
  /** Bytes the covered repositories may hold together. */
  maxbytes: number;
}

/** A quota and what its repositories hold now. */
export interface QuotaUsage {
  /** Numbered from 1 as the config lists them. */
  number: number;
  repositories: string[];
  maxBytes: number;
  usedBytes: number;
  /** Repositories the globs match now. */
  repositoryCount: number;
  /** Names of those repositories (for deciding who may see the quota). */
  repositoryNames: string[];
}

interface CompiledQuota {
  number: number;
  rule: QuotaRule;
  patterns: RegExp[];
}

interface Measured {
  usedBytes: number;
  repositories: Array<{ id: number; name: string }>;
}

/** Seams for tests: where a push stands between its quota check and its link. */
export interface QuotaHooks {
  /** A push passed its checks and holds its quotas' locks; it links once this resolves. */
  checked?: (name: string) => Promise<void>;
}

export class Quotas {
  private readonly quotas: CompiledQuota[];
  private readonly queries?: QuotaQueries;
  /**
   * Each quota's usage for upload starts and reports: recomputed after any write of this
   * process, else reused a while when costly (storage/metadata/costly-aggregate.ts). A push's
   * check never uses it: it reads the database under the quota's lock.
   */
  private readonly measured: CostlyAggregate<Measured>[];

  constructor(
    rules: QuotaRule[] = [],
    metadata?: MetadataStore,
    /** Per-quota sections of this process (a test may pass one that reports who waits). */
    private readonly locks: KeyedLock = new KeyedLock(),
    readonly hooks: QuotaHooks = {},
  ) {
    this.quotas = rules.map((rule, i) => ({ number: i + 1, rule, patterns: rule.repositories.map(compileGlob) }));
    if (this.quotas.length > 0 && !metadata) throw new Error('stowage.quotas needs the metadata database (stowage.database)');
    this.queries = metadata && new QuotaQueries(metadata);
    this.measured = this.quotas.map(
      (quota) =>
        new CostlyAggregate(
          () => this.measure(quota),
          () => metadata!.writeCount,
        ),
    );
  }

  private async measure(quota: CompiledQuota): Promise<Measured> {
    const repositories = await this.queries!.coveredRepositories(quota.rule.repositories, quota.patterns);
    return { repositories, usedBytes: await this.queries!.usedBytes(repositories.map((r) => r.id)) };
  }

  /** The quotas as configured, in config order. */
  get rules(): QuotaRule[] {
    return this.quotas.map((q) => q.rule);
  }

  /** Whether any quota is configured. */
  get enabled(): boolean {
    return this.quotas.length > 0;
  }

  /** The quotas covering the repository, in config order. */
  private covering(name: string): CompiledQuota[] {
    return this.quotas.filter((q) => q.patterns.some((p) => p.test(name)));
  }

  /**
   * Runs link (a manifest push's write) if the blobs the manifest references fit in every quota
   * covering the repository; else 403 DENIED and link never runs. The check and link run under
   * those quotas' locks. "New" bytes are the referenced blobs no ready manifest of the quota's
   * repositories references yet; a push adding none always fits (a re-push, an index whose
   * children are counted already).
   */
  async admitManifest<T>(name: string, blobs: Descriptor[], link: () => Promise<T>): Promise<T> {
    const covering = this.covering(name);
    if (covering.length === 0) return link();
    return this.underLocks(covering, async () => {
      for (const quota of covering) await this.checkManifest(quota, name, blobs);
      await this.hooks.checked?.(name);
      return link();
    });
  }

  /** 403 DENIED if a quota covering the repository is at or over its limit: an upload could not fit. */
  async admitUpload(name: string): Promise<void> {
    for (const quota of this.covering(name)) {
      const { usedBytes } = await this.measured[quota.number - 1].get();
      if (usedBytes >= quota.rule.maxbytes) throw refusal(quota, name, usedBytes, 0, 'no upload can fit');
    }
  }

  /** Every quota with its usage (as measured for upload starts), in config order. */
  async usage(): Promise<QuotaUsage[]> {
    const out: QuotaUsage[] = [];
    for (const quota of this.quotas) {
      const { usedBytes, repositories } = await this.measured[quota.number - 1].get();
      out.push({
        number: quota.number,
        repositories: quota.rule.repositories,
        maxBytes: quota.rule.maxbytes,
        usedBytes,
        repositoryCount: repositories.length,
        repositoryNames: repositories.map((r) => r.name),
      });
    }
    return out;
  }

  private async checkManifest(quota: CompiledQuota, name: string, blobs: Descriptor[]): Promise<void> {
    const sizes = new Map<string, number>();
    for (const blob of blobs) if (!sizes.has(blob.digest)) sizes.set(blob.digest, blob.size);
    if (sizes.size === 0) return;
    const ids = await this.queries!.coveredRepositoryIds(quota.rule.repositories, quota.patterns);
    const counted = await this.queries!.countedDigests(ids, [...sizes.keys()]);
    let added = 0;
    for (const [digest, size] of sizes) if (!counted.has(digest)) added += size;
    if (added === 0) return;
    const used = await this.queries!.usedBytes(ids);
    if (used + added > quota.rule.maxbytes) throw refusal(quota, name, used, added, `the push adds ${added} bytes`);
  }

  /** Runs fn holding each quota's lock, taken in config order (so two pushes never wait on each other crosswise). */
  private underLocks<T>(quotas: CompiledQuota[], fn: () => Promise<T>): Promise<T> {
    const [first, ...rest] = quotas;
    if (!first) return fn();
    return this.locks.run(`quota:${first.number}`, () => this.underLocks(rest, fn));
  }
}

/** 403 DENIED with the quota's repositories, its used and allowed bytes (message and detail). */
function refusal(quota: CompiledQuota, name: string, used: number, added: number, why: string): RegistryError {
  const { repositories, maxbytes } = quota.rule;
  const message =
    `quota exceeded for ${name}: ${why}; ${used} of ${maxbytes} bytes allowed are used ` +
    `(stowage.quotas rule ${quota.number}: ${repositories.join(',')})`;
  return new RegistryError('DENIED', message, {
    detail: { repository: name, quota: { number: quota.number, repositories }, usedBytes: used, allowedBytes: maxbytes, newBytes: added },
  });
}
