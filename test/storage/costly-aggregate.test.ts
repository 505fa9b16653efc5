// Costly registry-wide aggregates are remembered for a while proportional to their cost, unless
// this process wrote since, and askers at the same time share one run; cheap ones are computed
// afresh (storage/metadata/costly-aggregate.ts).
import { describe, expect, it } from 'vitest';
import { CHEAP_MS, CostlyAggregate, MAX_REUSE_MS, REUSE_FACTOR } from '../../storage/metadata/costly-aggregate.js';

/** An aggregate whose every run "takes" took ms on a clock the test holds. */
function aggregate(took: number) {
  let now = 1_000_000;
  let runs = 0;
  let writes = 0;
  const total = new CostlyAggregate(
    async () => {
      runs++;
      now += took;
      return runs;
    },
    () => writes,
    () => now,
  );
  return { total, runs: () => runs, advance: (ms: number) => (now += ms), write: () => writes++ };
}

describe('a costly aggregate', () => {
  it('computes a cheap one afresh every time', async () => {
    const { total, runs } = aggregate(CHEAP_MS);
    expect(await total.get()).toBe(1);
    expect(await total.get()).toBe(2);
    expect(runs()).toBe(2);
  });

  it('reuses a costly answer for a while proportional to its cost, then computes again', async () => {
    const { total, advance } = aggregate(200);
    expect(await total.get()).toBe(1);
    advance(200 * REUSE_FACTOR - 1);
    expect(await total.get()).toBe(1);
    advance(1);
    expect(await total.get()).toBe(2);
  });

  it('computes a costly one again once this process has written', async () => {
    const { total, write } = aggregate(200);
    expect(await total.get()).toBe(1);
    expect(await total.get()).toBe(1);
    write();
    expect(await total.get()).toBe(2);
    expect(await total.get()).toBe(2);
  });

  it('reuses a very costly answer at most MAX_REUSE_MS', async () => {
    const { total, advance } = aggregate(MAX_REUSE_MS);
    expect(await total.get()).toBe(1);
    advance(MAX_REUSE_MS);
    expect(await total.get()).toBe(2);
  });

  it('lets askers at the same time share one run', async () => {
    const { total, runs } = aggregate(0);
    expect(await Promise.all([total.get(), total.get(), total.get()])).toEqual([1, 1, 1]);
    expect(runs()).toBe(1);
  });
});
