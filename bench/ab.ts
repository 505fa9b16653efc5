// Runs ApacheBench (ab, from apache2-utils) for the HEAD load. wrk 4.1.0 cannot: its response
// parser is never told a response answers a HEAD, so it waits for the Content-Length bytes of a
// body that does not come and completes no request (wrk issue #198). ab -i knows HEAD. It checks
// every response's status; the headers of HEAD answers are checked separately with Node.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WrongAnswer } from './client.js';
import type { WrkLoad, WrkResult } from './wrk.js';

let runCounter = 0;

export async function runAbHead(url: string, headers: Record<string, string>, load: WrkLoad, workDir: string): Promise<WrkResult> {
  const csv = join(workDir, `ab-${++runCounter}.csv`);
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  // -t bounds the time; -n, given after it, lifts the 50,000-request cap that -t implies.
  const args = [
    '-q',
    '-k',
    '-i',
    '-c',
    String(load.connections),
    '-t',
    String(load.seconds),
    '-n',
    '100000000',
    '-s',
    '10',
    '-e',
    csv,
    ...headerArgs,
    url,
  ];
  const output = await new Promise<string>((ok, fail) => {
    const child = spawn('ab', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (load.seconds + 30) * 1000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code === 0) ok(text);
      else fail(new Error(`ab exited with ${code}: ${text.slice(-500)}`));
    });
  });
  const field = (label: string): number | undefined => {
    const m = new RegExp(`^${label}:\\s+([\\d.]+)`, 'm').exec(output);
    return m ? Number(m[1]) : undefined;
  };
  const complete = field('Complete requests') ?? 0;
  const failed = field('Failed requests') ?? 0;
  const non2xx = field('Non-2xx responses') ?? 0;
  const taken = field('Time taken for tests');
  const problems: string[] = [];
  if (failed > 0) problems.push(`${failed} failed requests`);
  if (non2xx > 0) problems.push(`${non2xx} non-2xx responses`);
  if (complete === 0 || !taken) problems.push('no requests completed');
  if (problems.length) throw new WrongAnswer(`ab HEAD ${url}: ${problems.join(', ')} of ${complete}`);
  const percentile = (p: number): number => {
    const line = readFileSync(csv, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${p},`));
    return line ? Number(line.split(',')[1]) : NaN;
  };
  return { requests: complete, rps: complete / taken!, p50Ms: percentile(50), p99Ms: percentile(99) };
}
