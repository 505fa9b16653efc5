// Resident memory of a server process, from /proc: the current RSS, the kernel's high-water mark
// (VmHWM, reset by writing 5 to clear_refs) and a sampler for a window of time.
import { readFileSync, writeFileSync } from 'node:fs';

function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Restarts the kernel's peak-RSS count for the process; false where the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function peakRssBytes(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** Samples RSS every `intervalMs` until stopped; the peak is the larger of samples and VmHWM. */
export class RssSampler {
  readonly samples: Array<{ atMs: number; bytes: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly hwmReset: boolean;
  private readonly startedMs = performance.now();

  constructor(
    private readonly pid: number,
    intervalMs: number,
  ) {
    this.hwmReset = resetPeakRss(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.samples.push({ atMs: performance.now() - this.startedMs, bytes: rssBytes(this.pid) });
    } catch {
      // The process exited; the workload reports that on its own.
    }
  }

  /** Stops sampling and returns the peak in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    let peak = Math.max(0, ...this.samples.map((s) => s.bytes));
    if (this.hwmReset) {
      try {
        peak = Math.max(peak, peakRssBytes(this.pid));
      } catch {
        // as above
      }
    }
    return peak;
  }
}
