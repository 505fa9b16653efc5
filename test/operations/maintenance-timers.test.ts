// The server's maintenance timers: expired cache entries and upload running hashes are purged on
// their own interval, audit events past stowage.audit.maxage at start and hourly, and stopping
// the maintenance stops it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configFrom } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { AUDIT_PRUNE_INTERVAL_MS, CACHE_PURGE_INTERVAL_MS, startMaintenance } from '../../server/maintenance.js';
import type { RegistryStorage } from '../../storage/registry.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('maintenance', () => {
  it('purges expired cache entries and running hashes every interval until stopped', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const purgeStale = vi.fn();
    const purgeRunningHashes = vi.fn();
    const storage = { cache: { purgeStale }, uploads: { purgeStale: purgeRunningHashes }, audit: {} } as unknown as RegistryStorage;
    const config = configFrom({ storage: { filesystem: { rootdirectory: '/nonexistent' } } });
    const stop = startMaintenance(config, storage, silentLogger());

    await vi.advanceTimersByTimeAsync(CACHE_PURGE_INTERVAL_MS - 1);
    expect(purgeStale).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(purgeStale).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(CACHE_PURGE_INTERVAL_MS);
    expect(purgeStale).toHaveBeenCalledTimes(2);

    stop();
    await vi.advanceTimersByTimeAsync(CACHE_PURGE_INTERVAL_MS * 3);
    expect(purgeStale).toHaveBeenCalledTimes(2);
    expect(purgeRunningHashes).toHaveBeenCalledTimes(2);
  });

  it('prunes the audit log at start and every hour until stopped', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const prune = vi.fn(async () => 0);
    const storage = { cache: { purgeStale: vi.fn() }, uploads: { purgeStale: vi.fn() }, audit: { store: {}, prune } } as unknown as RegistryStorage;
    const config = configFrom({ storage: { filesystem: { rootdirectory: '/nonexistent' } } });
    const stop = startMaintenance(config, storage, silentLogger());
    expect(prune).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(AUDIT_PRUNE_INTERVAL_MS);
    expect(prune).toHaveBeenCalledTimes(2);
    stop();
    await vi.advanceTimersByTimeAsync(AUDIT_PRUNE_INTERVAL_MS * 2);
    expect(prune).toHaveBeenCalledTimes(2);
  });
});
