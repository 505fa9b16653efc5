// One-at-a-time sections by key within this process: each run waits for the runs of its key
// queued before it (whether they succeeded or failed), and the map forgets a key once its queue
// is empty. Used for an upload's chunks (storage/uploads.ts) and a protected tag's writes
// (storage/manifests.ts). Across processes it protects nothing: the callers say what does.

export class KeyedLock {
  private readonly queues = new Map<string, Promise<unknown>>();

  /** Runs fn after every earlier run of key has settled; resolves or rejects as fn does. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const mine = previous.then(fn, fn);
    const settled = mine.catch(() => {});
    this.queues.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    }
  }
}
