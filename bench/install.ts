// The tools the benchmark runs, installed from Debian's packages when missing: the reference
// registry (docker-registry, CNCF Distribution 2.8.2), wrk for the GET loads, ab (apache2-utils)
// for the HEAD load, and skopeo.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Log } from './runner.js';
import { REFERENCE_BINARY } from './servers.js';

const TOOLS = [
  { command: REFERENCE_BINARY, packageName: 'docker-registry' },
  { command: 'wrk', packageName: 'wrk' },
  { command: 'ab', packageName: 'apache2-utils' },
  { command: 'skopeo', packageName: 'skopeo' },
];

function available(command: string): boolean {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function ensureInstalled(log: Log): void {
  const missing = TOOLS.filter((t) => !available(t.command)).map((t) => t.packageName);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ')}: run as root or apt-get install -y ${missing.join(' ')}`);
  log(`installing ${missing.join(', ')} from Debian's packages`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = TOOLS.filter((t) => !available(t.command));
  if (still.length) throw new Error(`still missing after apt-get install: ${still.map((t) => t.packageName).join(', ')}`);
}

/** First line of a tool's version output (wrk prints its version on stderr and exits 1). */
export function toolVersion(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`
    .split('\n')[0]
    .replace(/ Copyright.*$/, '')
    .replace(/^This is ApacheBench, Version ([\d.]+).*$/, 'ApacheBench $1')
    .trim();
}
