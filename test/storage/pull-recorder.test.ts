// The pull recorder (storage/metadata/pull-recorder.ts): pulls merge in memory per (repository,
// digest, tag) and reach the database in batches: on its timer, early when the distinct keys
// reach the bound, on flush and on close; a failed write keeps its counts for the next one; past
// the bound while a write is in flight, new keys are dropped and reported, never held.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PullRecorder, type PullSink } from '../../storage/metadata/pull-recorder.js';
import type { PullRecord } from '../../storage/metadata/metadata-store.js';

/** A sink that keeps every batch, and can be told to fail or to hold its writes. */
class FakeSink implements PullSink {
  batches: PullRecord[][] = [];
  failNext = false;
  private held?: { release: () => void; promise: Promise<void> };

  hold(): void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { release, promise };
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.release();
  }

  async recordPulls(pulls: PullRecord[]): Promise<void> {
    if (this.held) await this.held.promise;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('database is locked');
    }
    this.batches.push(pulls.map((p) => ({ ...p })));
  }
}

describe('pull recorder', () => {
  let clock = 1000;
  const now = () => clock;
  beforeEach(() => {
    clock = 1000;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('merges pulls of one key and writes them in one batch', async () => {
    const sink = new FakeSink();
    const recorder = new PullRecorder(sink, { now });
    recorder.record('r', 'sha256:a', 'v1');
    clock = 2000;
    recorder.record('r', 'sha256:a', 'v1');
    recorder.record('r', 'sha256:a');
    recorder.record('s', 'sha256:a', 'v1');
    expect(recorder.size).toBe(3);
    expect(sink.batches).toEqual([]);
    await recorder.flush();
    expect(sink.batches).toEqual([
      [
        { repository: 'r', digest: 'sha256:a', tag: 'v1', count: 2, at: 2000 },
        { repository: 'r', digest: 'sha256:a', count: 1, at: 2000 },
        { repository: 's', digest: 'sha256:a', tag: 'v1', count: 1, at: 2000 },
      ],
    ]);
    await recorder.flush();
    expect(sink.batches).toHaveLength(1);
    await recorder.close();
  });

  it('counts the pulls of a tag apart once it points elsewhere', async () => {
    const sink = new FakeSink();
    const recorder = new PullRecorder(sink, { now });
    recorder.record('r', 'sha256:a', 'v1');
    recorder.record('r', 'sha256:b', 'v1');
    recorder.record('r', 'sha256:b', 'v1');
    recorder.record('r', 'sha256:a', 'v1');
    await recorder.close();
    expect(sink.batches).toEqual([
      [
        { repository: 'r', digest: 'sha256:a', tag: 'v1', count: 2, at: 1000 },
        { repository: 'r', digest: 'sha256:b', tag: 'v1', count: 2, at: 1000 },
      ],
    ]);
  });

  it('writes on its timer', async () => {
    vi.useFakeTimers();
    const sink = new FakeSink();
    const recorder = new PullRecorder(sink, { intervalMs: 5000, now });
    recorder.record('r', 'sha256:a');
    await vi.advanceTimersByTimeAsync(4999);
    expect(sink.batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.batches).toHaveLength(1);
    await recorder.close();
  });

  it('starts a write early when the distinct keys reach the bound', async () => {
    const sink = new FakeSink();
    const recorder = new PullRecorder(sink, { maxKeys: 3, now });
    for (const tag of ['a', 'b', 'c']) recorder.record('r', 'sha256:a', tag);
    expect(recorder.size).toBe(3);
    recorder.record('r', 'sha256:a', 'd');
    // The three went to the database; the fourth starts the next batch.
    expect(recorder.size).toBe(1);
    await recorder.close();
    expect(sink.batches.map((b) => b.map((p) => p.tag))).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('drops new keys past the bound while a write is in flight, and says how many', async () => {
    const sink = new FakeSink();
    const problems: Array<{ dropped?: number }> = [];
    const recorder = new PullRecorder(sink, { maxKeys: 2, now, onProblem: (p) => problems.push(p) });
    sink.hold();
    recorder.record('r', 'sha256:a', 'a');
    recorder.record('r', 'sha256:a', 'b');
    recorder.record('r', 'sha256:a', 'c'); // starts the write of a and b, which is held
    recorder.record('r', 'sha256:a', 'd');
    recorder.record('r', 'sha256:a', 'e'); // the bound is reached again: dropped
    recorder.record('r', 'sha256:a', 'c'); // a key held already still counts
    expect(recorder.size).toBe(2);
    sink.release();
    await recorder.close();
    expect(sink.batches).toEqual([
      [
        { repository: 'r', digest: 'sha256:a', tag: 'a', count: 1, at: 1000 },
        { repository: 'r', digest: 'sha256:a', tag: 'b', count: 1, at: 1000 },
      ],
      [
        { repository: 'r', digest: 'sha256:a', tag: 'c', count: 2, at: 1000 },
        { repository: 'r', digest: 'sha256:a', tag: 'd', count: 1, at: 1000 },
      ],
    ]);
    expect(problems).toEqual([{ dropped: 1 }]);
  });

  it('keeps the counts of a failed write for the next one', async () => {
    const sink = new FakeSink();
    const errors: unknown[] = [];
    const recorder = new PullRecorder(sink, { now, onProblem: (p) => p.error && errors.push(p.error) });
    recorder.record('r', 'sha256:a', 'v1');
    sink.failNext = true;
    await recorder.flush();
    expect(errors).toHaveLength(1);
    expect(sink.batches).toEqual([]);
    clock = 3000;
    recorder.record('r', 'sha256:a', 'v1');
    await recorder.flush();
    expect(sink.batches).toEqual([[{ repository: 'r', digest: 'sha256:a', tag: 'v1', count: 2, at: 3000 }]]);
    await recorder.close();
  });

  it('writes what is left on close, and records nothing after', async () => {
    const sink = new FakeSink();
    const recorder = new PullRecorder(sink, { now });
    recorder.record('r', 'sha256:a');
    await recorder.close();
    recorder.record('r', 'sha256:b');
    await recorder.flush();
    expect(sink.batches).toEqual([[{ repository: 'r', digest: 'sha256:a', count: 1, at: 1000 }]]);
  });
});
