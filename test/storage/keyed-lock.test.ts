// KeyedLock (storage/keyed-lock.ts): runs of one key never overlap and go in order, a failed run
// does not hold up the next, other keys are not held up at all, and no key is kept once idle.
import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../storage/keyed-lock.js';

function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('KeyedLock', () => {
  it('runs one key one at a time, in order, and forgets the key when idle', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((gate, i) =>
      lock.run('a', async () => {
        events.push(`start ${i}`);
        await gate.promise;
        events.push(`end ${i}`);
        return i;
      }),
    );
    await Promise.resolve();
    expect(events).toEqual(['start 0']);
    // Released out of order: the second still waits for the first.
    gates[2].resolve();
    gates[1].resolve();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['start 0']);
    gates[0].resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect((lock as unknown as { queues: Map<string, unknown> }).queues.size).toBe(0);
  });

  it('lets the next run go after a failure, which reaches only its own caller', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('a', () => Promise.reject(new Error('boom')));
    const next = lock.run('a', async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
  });

  it('does not hold up other keys', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const held = lock.run('a', () => gate.promise);
    expect(await lock.run('b', async () => 'b ran')).toBe('b ran');
    gate.resolve();
    await held;
  });
});
