// stowage.retention as the runner (storage/retention/run.ts) takes it: the compiled policies, the
// grace period and deleteuntagged of stowage.gc for the collection that follows, and the
// repositories it never touches: the pull-through cache's (stowage.proxies prefixes, or all of
// them when the whole registry mirrors one upstream), which have their own eviction.
import { RetentionPolicies } from '../storage/retention/policy.js';
import type { RegistryStorage } from '../storage/registry.js';
import type { Repository } from '../storage/repository.js';
import { listen } from '../notifications/listen.js';
import type { Notifier } from '../notifications/notifier.js';
import type { RetentionOptions } from '../storage/retention/run.js';
import { RegistryError } from '../errors/registry-error.js';
import { parseDuration, type RegistryConfig } from './config.js';
import { routeOptions } from './route-options.js';

export type RetentionSettings = Omit<RetentionOptions, 'dryRun' | 'now' | 'onDelete' | 'repository'>;

/** The runner's settings; undefined when the config has no stowage.retention. */
export function retentionSettings(config: RegistryConfig): RetentionSettings | undefined {
  const retention = config.stowage.retention;
  if (!retention) return undefined;
  const prefixes = config.stowage.proxies.map((p) => p.prefix);
  const mirror = config.proxy !== undefined;
  return {
    policies: new RetentionPolicies(retention.policies),
    graceMs: config.stowage.gc.graceMs,
    gcDeleteUntagged: config.stowage.gc.deleteuntagged,
    skip: (name) => mirror || prefixes.some((prefix) => name === prefix || name.startsWith(`${prefix}/`)),
  };
}

/**
 * The repositories a run deletes through: storage's, wrapped for webhook events when endpoints are
 * configured (delete events, as a DELETE through the API sends; actor: the admin who asked, if any).
 */
export function retentionRepositories(
  storage: RegistryStorage,
  notifier: Notifier | undefined,
  actor?: string,
): ((name: string) => Repository) | undefined {
  if (!notifier?.enabled) return undefined;
  const sink = notifier.sinkFor({
    request: { id: '', addr: '', host: '', method: 'DELETE', useragent: 'stowage retention' },
    actor,
    localAddr: '',
  });
  return (name) => listen(storage.repository(name), sink);
}

/**
 * Why a real run may not delete, by the API's rules (as `stowage rm`): the registry read-only
 * (storage.maintenance.readonly) or deletes disabled (storage.delete.enabled). Dry runs always may.
 */
export function realRunRefusal(config: RegistryConfig): RegistryError | undefined {
  const rules = routeOptions(config);
  if (rules.readOnly) return new RegistryError('UNSUPPORTED', 'the registry is in read-only mode (storage.maintenance.readonly)');
  if (!rules.deleteEnabled) return new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  return undefined;
}

/** Throws realRunRefusal's error, if any. */
export function refuseRealRun(config: RegistryConfig): void {
  const refusal = realRunRefusal(config);
  if (refusal) throw refusal;
}

/**
 * "Evaluate as if at this time": an ISO 8601 time, milliseconds since the epoch, or a duration
 * from now with a sign ("+30d", "-2h"). For previews ("what goes next month") and tests.
 */
export function parseEvaluationTime(value: string, now = Date.now()): number {
  const text = value.trim();
  const relative = /^([+-])(.+)$/.exec(text);
  try {
    if (relative) return now + (relative[1] === '-' ? -1 : 1) * parseDuration(relative[2]);
  } catch {
    throw badTime(value);
  }
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw badTime(value);
  return parsed;
}

function badTime(value: string): RegistryError {
  return new RegistryError(
    'UNSUPPORTED',
    `now: "${value.slice(0, 100)}" is not a time (ISO 8601, ms since the epoch, or +/- a duration such as +30d)`,
    {
      status: 400,
    },
  );
}
