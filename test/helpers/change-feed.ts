// Waiting for a replica's change feed (storage/change-feed.ts) instead of for time: each helper
// resolves when the replica has applied the announcement (or gone live, or lost its connection),
// so a test's next request is the first one after it, however fast or slow the machine.
import type { Change } from '../../storage/metadata/changes.js';
import type { FeedEvent } from '../../storage/change-feed.js';
import type { RegistryStorage } from '../../storage/registry.js';

function nextEvent(storage: RegistryStorage, matches: (event: FeedEvent) => boolean): Promise<FeedEvent> {
  const feed = storage.changes;
  if (!feed) return Promise.reject(new Error('this storage has no metadata database, so no change feed'));
  return new Promise((resolve) => {
    const stop = feed.observe((event) => {
      if (!matches(event)) return;
      stop();
      resolve(event);
    });
  });
}

/** Resolves once the storage has applied a change like this one (call before causing it). */
export async function applied(storage: RegistryStorage, like: Partial<Change> & { kind: Change['kind'] }): Promise<Change> {
  const event = await nextEvent(
    storage,
    (e) => e.type === 'change' && Object.entries(like).every(([key, value]) => (e.change as Record<string, unknown>)[key] === value),
  );
  return (event as { change: Change }).change;
}

/** Resolves once the storage's feed goes live (true) or loses its connection (false). */
export async function feedLive(storage: RegistryStorage, live: boolean): Promise<void> {
  await nextEvent(storage, (e) => e.type === 'live' && e.live === live);
}
