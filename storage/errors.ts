// Storage's own error: a key the driver does not hold. It never leaves storage as an answer; the
// registry's error type, which storage throws for the spec's codes, is errors/registry-error.ts.

/** A key the driver does not hold; the layer above decides which spec code that means. */
export class NotFoundError extends Error {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    // Expected on every miss (HEAD before push): no stack, it is never a bug report.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`not found: ${key}`, options);
    Error.stackTraceLimit = limit;
    this.name = 'NotFoundError';
    this.key = key;
  }
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}
