// A registry-wide aggregate (storage/metadata/usage-queries.ts) that costs more than a few tens of
// milliseconds is answered from memory for a while proportional to its cost, unless this process
// has written to the database since (other replicas' writes show once the while is over), and
// askers at the same time share one run: a page many browsers load does not aggregate the
// registry once each. Cheap ones (small registries) are computed afresh every time.
// Tests: test/storage/costly-aggregate.test.ts.

/** Below this a run is cheap and not remembered. */
export const CHEAP_MS = 50;
/** A costly answer is reused for this many times what it took... */
export const REUSE_FACTOR = 20;
/** ...and at most this long. */
export const MAX_REUSE_MS = 60_000;

export class CostlyAggregate<T> {
  private value?: { answer: T; until: number; version: number };
  private running?: Promise<T>;

  constructor(
    private readonly compute: () => Promise<T>,
    /** Moves with every write this process makes (MetadataStore.writeCount). */
    private readonly version: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    const value = this.value;
    if (value && this.now() < value.until && this.version() === value.version) return Promise.resolve(value.answer);
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<T> {
    const started = this.now();
    const version = this.version();
    const answer = await this.compute();
    const took = this.now() - started;
    this.value = took > CHEAP_MS ? { answer, version, until: this.now() + Math.min(MAX_REUSE_MS, took * REUSE_FACTOR) } : undefined;
    return answer;
  }
}
