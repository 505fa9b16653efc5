// Bundles the server into one file, dist/stowage.mjs, which `npm start` and the container run.
// Why: a registry that loads ~400 module files spends most of its start-up in Node's module
// resolver and compiler; one file starts in about half the time (bench/ measures start-up).
// The modules in dist/ (tsc's output) stay for the tests and the `stowage` bin.
// bundle() is also what tests that run the real process use, from server/cli.ts directly.
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const DEFAULT = { entryPoints: ['dist/server/cli.js'], outfile: 'dist/stowage.mjs' };

export function bundle({ entryPoints, outfile } = DEFAULT) {
  return build({
    entryPoints,
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Smaller to parse at start-up; names are kept so stack traces stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    logLevel: 'warning',
    // Some dependencies are CommonJS and call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __stowageRequire } from 'node:module'; const require = __stowageRequire(import.meta.url);" },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await bundle();
