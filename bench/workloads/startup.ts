// Start-up: time from spawning the server (fresh empty data directory, new port) to its first
// 200 answer to GET /v2/, polled every 2 ms. Each round starts and stops a new process.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import type { Workload } from '../runner.js';
import { launchRegistry, type RegistryKind } from '../servers.js';

export function startupWorkload({ workDir, options }: BenchContext): Workload<{ name: string }> {
  return {
    id: 'startup',
    title: 'Start-up to the first GET /v2/ 200 (fresh data directory)',
    metrics: [{ key: 'ms', label: 'time to ready', unit: 'ms', better: 'lower' }],
    async run(target, round) {
      const id = `startup-${target.name}-${round}`;
      const server = await launchRegistry(target.name as RegistryKind, workDir, id, { stowageCli: options.stowageCli });
      await server.stop();
      rmSync(join(workDir, id), { recursive: true, force: true });
      return { ms: server.readyMs };
    },
  };
}
