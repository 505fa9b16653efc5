// Types for bundle.mjs, which tests import (test/operations/serve-process.test.ts).
export function bundle(options?: { entryPoints: string[]; outfile: string }): Promise<unknown>;
