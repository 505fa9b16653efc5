// Kill injection for the crash tests (test/gc/kill-injection.test.ts): with
// STOWAGE_CRASH_AT=<point>[:<n>] in its environment, the process kills itself with SIGKILL the
// n-th time (default: the first) it reaches that point, as a power cut would stop it there. The
// points mark the steps between which a push or a collection may be cut short; without the
// variable (production) crashPoint is one comparison.
const spec = process.env.STOWAGE_CRASH_AT;
const [target, nth] = spec ? [spec.split(':')[0], Number(spec.split(':')[1] ?? 1)] : [undefined, 0];
let hits = 0;

/** The named steps, so a test can go through every one. */
export const CRASH_POINTS = [
  // A manifest push (storage/manifests.ts), in order.
  'manifest-stored',
  'manifest-recorded',
  'manifest-retained',
  'manifest-tagged',
  'manifest-committed',
  // A collection (storage/jobs/gc.ts, storage/liveness.ts).
  'gc-marked',
  'gc-manifest-row-deleted',
  'gc-set-aside',
  'gc-deleted',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

export function crashPoint(point: CrashPoint): void {
  if (target === undefined || point !== target) return;
  if (++hits === nth) process.kill(process.pid, 'SIGKILL');
}
