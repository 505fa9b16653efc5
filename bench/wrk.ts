// Runs wrk against one URL with a generated Lua script that checks every response (status, and
// either the exact body or its length) and prints one JSON line of totals from done(). GET only:
// wrk 4.1.0 cannot parse answers to HEAD (see ab.ts).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WrongAnswer } from './client.js';

export interface WrkLoad {
  /** Threads and connections: the same for every target of a workload. */
  threads: number;
  connections: number;
  seconds: number;
}

export interface WrkCheck {
  headers?: Record<string, string>;
  status: number;
  /** File whose bytes every body must equal. */
  bodyFile?: string;
  /** Or just the body's length. */
  length?: number;
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

function luaString(text: string): string {
  return JSON.stringify(text); // a JSON string literal is a valid Lua string literal for ASCII
}

function script(check: WrkCheck): string {
  const headers = Object.entries(check.headers ?? {})
    .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
    .join('\n');
  return `
${headers}
local expected_status = ${check.status}
local expected_length = ${check.length ?? -1}
local expected_body = nil
${check.bodyFile ? `do local f = assert(io.open(${luaString(check.bodyFile)}, "rb")); expected_body = f:read("*a"); f:close() end` : ''}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  local ok = status == expected_status
  local got = #(body or "")
  if ok and expected_body ~= nil and body ~= expected_body then ok = false end
  if ok and expected_length >= 0 and got ~= expected_length then ok = false end
  if not ok then
    bad = bad + 1
    if first_bad == "" then first_bad = "status " .. status .. ", " .. got .. " bytes" end
  end
end

function done(summary, latency, requests)
  local b = 0
  local fb = ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    local f = t:get("first_bad")
    if fb == "" and f ~= nil then fb = f end
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"bad":%d,"first_bad":"%s"}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), b, fb))
end
`;
}

let scriptCounter = 0;

/** Runs wrk; a response that fails the check, or any socket error or timeout, is a WrongAnswer. */
export async function runWrk(url: string, check: WrkCheck, load: WrkLoad, workDir: string): Promise<WrkResult> {
  const file = join(workDir, `wrk-${++scriptCounter}.lua`);
  writeFileSync(file, script(check));
  const args = ['-t', String(load.threads), '-c', String(load.connections), '-d', `${load.seconds}s`, '--timeout', '10s', '-s', file, url];
  const output = await new Promise<string>((ok, fail) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (load.seconds + 30) * 1000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code === 0) ok(text);
      else fail(new Error(`wrk exited with ${code}: ${text.slice(-500)}`));
    });
  });
  const line = /^WRKJSON (.*)$/m.exec(output);
  if (!line) throw new Error(`wrk printed no totals: ${output.slice(-500)}`);
  const r = JSON.parse(line[1]) as Record<string, number | string>;
  const n = (k: string) => Number(r[k]);
  const problems: string[] = [];
  if (n('bad') > 0) problems.push(`${n('bad')} wrong answers (first: ${r.first_bad})`);
  for (const k of ['connect', 'read', 'write', 'timeout']) if (n(k) > 0) problems.push(`${n(k)} ${k} errors`);
  if (n('requests') === 0) problems.push('no requests completed');
  if (problems.length) throw new WrongAnswer(`wrk GET ${url}: ${problems.join(', ')} of ${n('requests')} requests`);
  return {
    requests: n('requests'),
    rps: n('requests') / (n('duration_us') / 1e6),
    p50Ms: n('p50_us') / 1000,
    p99Ms: n('p99_us') / 1000,
  };
}
