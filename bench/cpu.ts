// CPU time of the processes under test, from /proc/<pid>/stat (user + system), and a workload
// wrapper that records, beside its figures, the CPU seconds the target's server (and its storage
// server, s3rver for stowage on S3) spent in each round: where a round's time goes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Target } from './client.js';
import type { Workload } from './runner.js';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    ticksPerSecond = Number(text) > 0 ? Number(text) : 100;
  }
  return ticksPerSecond;
}

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm) ": state is the 1st, utime and stime the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** The extra sample keys withCpuTime adds to a round's values. */
export const SERVER_CPU = 'serverCpu';
export const STORAGE_CPU = 'storageCpu';

/** The same workload, each round also recording the CPU seconds of the target's processes. */
export function withCpuTime(workload: Workload<Target>): Workload<Target> {
  return {
    ...workload,
    async run(target, round) {
      const server = cpuSeconds(target.pid);
      const storage = target.storagePid ? cpuSeconds(target.storagePid) : 0;
      const values = await workload.run(target, round);
      return {
        ...values,
        [SERVER_CPU]: cpuSeconds(target.pid) - server,
        ...(target.storagePid ? { [STORAGE_CPU]: cpuSeconds(target.storagePid) - storage } : {}),
      };
    },
  };
}
