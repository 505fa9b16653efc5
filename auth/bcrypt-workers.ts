// Compares passwords with bcrypt hashes on worker threads. bcrypt is slow on purpose (bcryptjs
// takes about 250 ms at cost 12), and on the main thread even its async form holds the event loop
// for 100 ms slices, so a burst of logins stalled every other request. A few workers take the
// checks one at a time each; past `maxQueued` waiting checks the caller is told to come back
// (TOOMANYREQUESTS) instead of queueing without bound.
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { tooManyRequests } from './login-limiter.js';

/** Checks a password against a bcrypt hash; false for a wrong password or a hash it cannot read. */
export interface PasswordChecker {
  compare(password: string, hash: string): Promise<boolean>;
}

// The worker is evaluated from this text rather than loaded from a file, so it works alike from
// the TypeScript sources (tests), tsc's dist/ and the one-file bundle; bcryptjs comes from
// node_modules, which every deployment keeps (deploy/).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
  parentPort.postMessage(ok);
});
`;

interface Task {
  password: string;
  hash: string;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

export interface BcryptWorkersOptions {
  /** Worker threads; by default one fewer than the cores (at least one, at most four). */
  size?: number;
  /** Checks allowed to wait for a worker. */
  maxQueued?: number;
}

export class BcryptWorkers implements PasswordChecker {
  private readonly size: number;
  private readonly maxQueued: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private bcryptjsPath: string | undefined;

  constructor(options: BcryptWorkersOptions = {}) {
    this.size = options.size ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    this.maxQueued = options.maxQueued ?? 64;
  }

  compare(password: string, hash: string): Promise<boolean> {
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(tooManyRequests(1, 'too many logins in progress; try again shortly'));
    }
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ password, hash, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the workers; checks still waiting fail. */
  async close(): Promise<void> {
    for (const task of this.queue.splice(0)) task.reject(new Error('password checks stopped'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => !s.task) ?? (this.slots.length < this.size ? this.spawn() : undefined);
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      // A busy worker keeps the process alive until its answer; an idle one does not.
      slot.worker.ref();
      slot.worker.postMessage({ password: task.password, hash: task.hash });
    }
  }

  private spawn(): Slot {
    this.bcryptjsPath ??= createRequire(import.meta.url).resolve('bcryptjs');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: this.bcryptjsPath } });
    const slot: Slot = { worker };
    worker.unref();
    worker.on('message', (ok: boolean) => {
      const task = slot.task;
      slot.task = undefined;
      worker.unref();
      task?.resolve(ok === true);
      this.dispatch();
    });
    const lost = (err: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      slot.task?.reject(err);
      slot.task = undefined;
      // The next check starts a fresh worker.
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`password check worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}

/** The process's shared workers, started on the first check. */
export const sharedBcryptWorkers = new BcryptWorkers();
