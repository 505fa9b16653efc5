// What every ported workflow shares: the parsed options, the generated content, the client (made
// once the server is listening), and the status matchers the Go checks use (Gomega's
// SatisfyAll(>=200, <300), SatisfyAny(Equal(...))) with the response body in the failure message.
import { expect } from 'vitest';
import type { ConformanceClient, ConformanceResponse } from './registry-client.js';
import type { SuiteOptions } from './suite-env.js';
import type { TestData } from './test-data.js';

export interface SuiteContext {
  options: SuiteOptions;
  data: TestData;
  /** Set in beforeAll, once the registry is up; read only inside tests. */
  client: ConformanceClient;
}

/** A status a check accepts: an exact code, or '2xx' for BeNumerically(">=", 200) and ("<", 300). */
export type AcceptedStatus = number | '2xx';

function describeResponse(resp: ConformanceResponse): string {
  const body = resp.body.toString('utf8').slice(0, 500);
  return `${resp.status} from ${resp.url.pathname}${resp.url.search}${body ? `: ${body}` : ''}`;
}

/**
 * Go's RunOnlyIf(v) on a value known only at run time (a previous answer): the spec is skipped,
 * with the reason, exactly where the official suite skips it.
 */
export function runOnlyIf(ctx: { skip: (note?: string) => void }, condition: boolean, reason: string): void {
  if (!condition) ctx.skip(reason);
}

export function expectStatus(resp: ConformanceResponse, ...accepted: AcceptedStatus[]): void {
  const ok = accepted.some((a) => (a === '2xx' ? resp.status >= 200 && resp.status < 300 : resp.status === a));
  expect(ok, `expected ${accepted.join(' or ')}, got ${describeResponse(resp)}`).toBe(true);
}
