// A closed-loop GET load from Node for the scale workload: `connections` keep-alive connections,
// each sending its next request when the last one is answered, for a fixed time; then it waits
// for the requests in flight and counts them. Unlike wrk, a server that takes seconds per answer
// (the reference listing 20,000 repositories) still yields every latency instead of a timeout.
// Every answer's status and byte count is checked; latencies are kept in a bounded array.
import type http from 'node:http';
import { keepAliveAgent, request, WrongAnswer, type Target } from './client.js';

export interface LoadSpec {
  path: string;
  headers?: Record<string, string>;
  /** The status and body length every answer must have. */
  status: number;
  length: number;
  connections: number;
  /** New requests start for this long. */
  seconds: number;
  /** No request starts after this, and each must be answered within it. */
  limitMs: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/** At most this many latencies per load (8 bytes each). */
const MAX_SAMPLES = 1_000_000;

/** The q-quantile (0..1) of sorted values, nearest rank. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export async function runLoad(target: Target, spec: LoadSpec): Promise<LoadResult> {
  const agent: http.Agent = keepAliveAgent(spec.connections);
  const latencies = new Float64Array(MAX_SAMPLES);
  let count = 0;
  let failure: Error | undefined;
  const started = performance.now();
  const stopAt = started + spec.seconds * 1000;
  const limitAt = started + spec.limitMs;
  let lastDone = started;
  const worker = async (): Promise<void> => {
    while (!failure && count < MAX_SAMPLES && performance.now() < stopAt) {
      const sent = performance.now();
      try {
        const reply = await request(target, 'GET', spec.path, {
          headers: spec.headers,
          agent,
          timeoutMs: Math.max(1000, limitAt - sent),
          onChunk: () => {},
        });
        if (reply.status !== spec.status || reply.length !== spec.length)
          throw new WrongAnswer(`GET ${spec.path} -> ${reply.status}, ${reply.length} bytes; expected ${spec.status}, ${spec.length} bytes`);
      } catch (error) {
        failure ??= error as Error;
        return;
      }
      lastDone = performance.now();
      if (count < MAX_SAMPLES) latencies[count++] = lastDone - sent;
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.connections }, worker));
  } finally {
    agent.destroy();
  }
  if (failure) throw failure;
  if (count === 0) throw new WrongAnswer(`GET ${spec.path}: no request completed`);
  const sorted = latencies.subarray(0, count).sort();
  return { requests: count, rps: count / ((lastDone - started) / 1000), p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
}

/** One GET, timed to the last byte of a 200 answer. */
export async function timeOneRequest(target: Target, path: string, headers?: Record<string, string>): Promise<number> {
  const sent = performance.now();
  const reply = await request(target, 'GET', path, { headers, onChunk: () => {} });
  const ms = performance.now() - sent;
  if (reply.status !== 200) throw new WrongAnswer(`GET ${path} -> ${reply.status}`);
  return ms;
}
