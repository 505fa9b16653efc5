// How busy the machine was with other work while the benchmark ran: CPU time of the whole machine
// (/proc/stat) minus that of this process and its reaped children (servers, wrk, ab, skopeo),
// as an average number of cores. The figure says how far the absolute numbers can be trusted.
import { readFileSync } from 'node:fs';

interface Sample {
  machineBusy: number;
  machineTotal: number;
  ours: number;
  atMs: number;
}

function sample(): Sample {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
  const machineBusy = user + nice + system + irq + softirq + steal;
  // Fields after the command name: utime, stime, cutime, cstime are the 12th to 15th.
  const self = readFileSync('/proc/self/stat', 'utf8');
  const fields = self
    .slice(self.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const ours = fields[11] + fields[12] + fields[13] + fields[14];
  return { machineBusy, machineTotal: machineBusy + idle + iowait, ours, atMs: performance.now() };
}

export interface MachineLoad {
  /** Average cores used by processes other than the benchmark's. */
  othersCores: number;
  /** Average cores used by the benchmark, its clients and the servers. */
  benchCores: number;
}

/** Starts measuring; call the result once every child has exited. */
export function startLoadMeter(cores: number): () => MachineLoad {
  const start = sample();
  return () => {
    const end = sample();
    const total = end.machineTotal - start.machineTotal;
    if (total <= 0) return { othersCores: 0, benchCores: 0 };
    const busy = end.machineBusy - start.machineBusy;
    const ours = end.ours - start.ours;
    return { othersCores: (Math.max(0, busy - ours) / total) * cores, benchCores: (Math.min(busy, ours) / total) * cores };
  };
}
