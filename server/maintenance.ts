// Timers the server runs beside requests: purging stale upload sessions (Distribution's
// storage.maintenance.uploadpurging, on by default: older than 168h, every 24h).
import type { RegistryStorage } from '../storage/registry.js';
import { purgeUploads } from '../storage/upload-purge.js';
import { parseDuration, type RegistryConfig } from './config.js';
import type { Logger } from './logger.js';

export function startMaintenance(config: RegistryConfig, storage: RegistryStorage, logger: Logger): () => void {
  const purging = config.storage.maintenance?.uploadpurging ?? { enabled: true, age: '168h', interval: '24h', dryrun: false };
  if (!purging.enabled) return () => {};
  const age = parseDuration(purging.age);
  const run = () => {
    purgeUploads(storage, { olderThanMs: age, dryRun: purging.dryrun })
      .then((report) => {
        if (report.purged.length > 0) logger.info({ purged: report.purged.length, dryRun: purging.dryrun }, 'purged stale uploads');
      })
      .catch((err: unknown) => logger.error({ err }, 'upload purging failed'));
  };
  const timer = setInterval(run, Math.max(1000, parseDuration(purging.interval)));
  timer.unref();
  return () => clearInterval(timer);
}
