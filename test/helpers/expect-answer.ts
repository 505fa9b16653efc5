// Assertions every API test makes about an answer: the status, the registry's API version header,
// and for failures the spec's JSON error envelope {"errors":[{"code","message","detail"}]}.
import { expect } from 'vitest';
import type { ErrorCode } from '../../errors/registry-error.js';

interface AnswerLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text?: string;
  body?: unknown;
}

function bodyText(res: AnswerLike): string {
  if (Buffer.isBuffer(res.body)) return res.body.toString('utf8');
  return res.text ?? '';
}

/** Checks the status and that the answer says which API it speaks. */
export function expectAnswer(res: AnswerLike, status: number): void {
  expect(res.status, bodyText(res)).toBe(status);
  expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
}

/** Checks the status, the API version, Content-Type JSON and an envelope holding exactly code. */
export function expectError(res: AnswerLike, status: number, code: ErrorCode, options: { head?: boolean } = {}): void {
  expectAnswer(res, status);
  if (options.head) return;
  expect(res.headers['content-type']).toMatch(/^application\/json\b/);
  const body = JSON.parse(bodyText(res)) as { errors: Array<Record<string, unknown>> };
  expect(body.errors).toHaveLength(1);
  const [entry] = body.errors;
  expect(entry.code).toBe(code);
  expect(typeof entry.message).toBe('string');
  for (const key of Object.keys(entry)) expect(['code', 'message', 'detail']).toContain(key);
  expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(bodyText(res)));
}
