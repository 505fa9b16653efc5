// Timers the server runs beside requests: purging stale upload sessions (Distribution's
// storage.maintenance.uploadpurging, on by default: older than 168h, every 24h), dropping expired
// cache entries, pruning the audit log past stowage.audit.maxage, and, when stowage.gc.interval is
// set, garbage collection (the same as `stowage gc`); when stowage.retention.interval is set, the
// retention policies (`stowage retention run`).
import type { RegistryStorage } from '../storage/registry.js';
import { GcBusyError, collectGarbage } from '../storage/jobs/gc.js';
import { purgeUploads } from '../storage/jobs/upload-purge.js';
import type { RegistryConfig } from './config.js';
import { runRetention } from '../storage/retention/run.js';
import { realRunRefusal, retentionRepositories, retentionSettings } from './retention.js';
import type { Notifier } from '../notifications/notifier.js';
import type { Logger } from './logger.js';

/** Runs job every intervalMs, never two at once; returns the stopper. */
function every(intervalMs: number, job: () => Promise<void>): () => void {
  let running = false;
  const timer = setInterval(
    () => {
      if (running) return;
      running = true;
      void job().finally(() => {
        running = false;
      });
    },
    Math.max(1000, intervalMs),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/** How often expired cache entries are dropped: a scan of at most ~70,000 entries, about a millisecond. */
export const CACHE_PURGE_INTERVAL_MS = 15_000;

/** How often audit events past stowage.audit.maxage are deleted. */
export const AUDIT_PRUNE_INTERVAL_MS = 3_600_000;

export function startMaintenance(config: RegistryConfig, storage: RegistryStorage, logger: Logger, notifier?: Notifier): () => void {
  const stoppers: Array<() => void> = [];
  // Memory then follows what was used within the cache TTL, not everything since start-up.
  stoppers.push(
    every(CACHE_PURGE_INTERVAL_MS, async () => {
      storage.cache.purgeStale();
      storage.uploads.purgeStale();
    }),
  );
  const purging = config.storage.maintenance?.uploadpurging ?? { enabled: true, ageMs: 168 * 3_600_000, intervalMs: 24 * 3_600_000, dryrun: false };
  if (purging.enabled) {
    const age = purging.ageMs;
    stoppers.push(
      every(purging.intervalMs, async () => {
        try {
          const report = await purgeUploads(storage, { olderThanMs: age, dryRun: purging.dryrun });
          if (report.purged.length > 0) logger.info({ purged: report.purged.length, dryRun: purging.dryrun }, 'purged stale uploads');
        } catch (err) {
          logger.error({ err }, 'upload purging failed');
        }
      }),
    );
  }
  // Audit rows older than stowage.audit.maxage go, at start and hourly (an indexed range delete).
  const pruneAudit = async () => {
    try {
      const pruned = await storage.audit.prune();
      if (pruned > 0) logger.info({ pruned }, 'pruned old audit events');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'audit events not pruned');
    }
  };
  if (storage.audit.store) {
    void pruneAudit();
    stoppers.push(every(AUDIT_PRUNE_INTERVAL_MS, pruneAudit));
  }
  const gc = config.stowage.gc;
  if (gc.intervalMs !== undefined) {
    const grace = gc.graceMs;
    stoppers.push(
      every(gc.intervalMs, async () => {
        try {
          const report = await collectGarbage(storage, { gracePeriodMs: grace, deleteUntagged: gc.deleteuntagged });
          logger.info(
            { blobsDeleted: report.blobsDeleted.length, bytesFreed: report.bytesFreed, manifestsDeleted: report.manifestsDeleted.length },
            'garbage collection done',
          );
        } catch (err) {
          if (err instanceof GcBusyError) logger.info({ since: err.since }, 'garbage collection skipped: another one is running');
          else logger.error({ err }, 'garbage collection failed');
        }
      }),
    );
  }
  const retention = retentionSettings(config);
  const retentionInterval = config.stowage.retention?.intervalMs;
  const refusal = realRunRefusal(config);
  if (retention && retentionInterval !== undefined && refusal) {
    logger.warn({ reason: refusal.message }, 'stowage.retention.interval is set, but retention may not delete: not scheduled');
  } else if (retention && retentionInterval !== undefined) {
    stoppers.push(
      every(retentionInterval, async () => {
        try {
          const report = await runRetention(storage, {
            ...retention,
            repository: retentionRepositories(storage, notifier),
            onDelete: (deletion) => logger.info(deletion, 'retention deleted'),
          });
          logger.info(
            { tagsDeleted: report.tagsDeleted, manifestsDeleted: report.manifestsDeleted, skipped: report.skipped.length, gc: report.gc },
            'retention done',
          );
        } catch (err) {
          logger.error({ err }, 'retention failed');
        }
      }),
    );
  }
  return () => stoppers.forEach((stop) => stop());
}
