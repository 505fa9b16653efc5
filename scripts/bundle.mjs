// Bundles the server into one file, which `npm start`, the `stowage` bin and the container run.
// Why: a registry that loads ~400 module files spends most of its start-up in Node's module
// resolver and compiler; one file starts in about half the time (bench/ measures start-up).
// bundleServer() writes it as dist/stowage-main.cjs, started by dist/stowage.mjs
// (scripts/stowage-loader.mjs) from V8's code cache, which it writes too: compiling the bundle
// was most of what was left. The modules in dist/ (tsc's output) stay for the tests.
// bundle() writes one ESM file (tests bundle entry points of their own with it).
// bundleUi() builds the web UI (ui/src/, Preact + htm) for the browser into dist/ui/, which
// server/routes/ui.ts serves; running this file does both.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const DEFAULT = { entryPoints: ['dist/server/cli.js'], outfile: 'dist/stowage.mjs' };
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What every server bundle shares. */
const SERVER_BUILD = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Smaller to parse at start-up; names are kept so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
};

export function bundle({ entryPoints, outfile } = DEFAULT) {
  return build({
    ...SERVER_BUILD,
    entryPoints,
    outfile,
    format: 'esm',
    // Some dependencies are CommonJS and call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __stowageRequire } from 'node:module'; const require = __stowageRequire(import.meta.url);" },
  });
}

/**
 * The server as it is run: dist/stowage-main.cjs (CommonJS, so that it can be compiled with a
 * code cache: Node 20 has none for ES modules), dist/stowage.mjs (the loader) and the code cache
 * dist/stowage-main.cjs.cache, made by running the loader once in its writing mode.
 */
export async function bundleServer({ root = ROOT, entry = join(root, 'dist/server/cli.js') } = {}) {
  const main = join(root, 'dist/stowage-main.cjs');
  // What the one-file ES module build used to leave there.
  for (const old of ['dist/stowage.mjs.map', 'dist/stowage.mjs.LEGAL.txt']) await rm(join(root, old), { force: true });
  await build({
    ...SERVER_BUILD,
    entryPoints: [entry],
    outfile: main,
    format: 'cjs',
    // import.meta means the bundle's own file, as it does in the ES module build.
    define: { 'import.meta.url': '__stowageModuleUrl', 'import.meta.dirname': '__dirname' },
    banner: { js: 'const __stowageModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  // The loader compiles the bundle inside a function, where "#!" is not allowed; a comment keeps
  // the line numbers the source map gives. The last line is the build id the cache must carry.
  const source = (await readFile(main, 'utf8')).replace(/^#!.*/, '//');
  const id = createHash('sha256').update(source).digest('hex');
  await writeFile(main, `${source.replace(/\n*$/, '')}\n//# stowageBuild=${id}`);
  const loader = join(root, 'dist/stowage.mjs');
  await copyFile(join(root, 'scripts/stowage-loader.mjs'), loader);
  await chmod(loader, 0o755);
  execFileSync(process.execPath, [loader], { env: { ...process.env, STOWAGE_WRITE_CODE_CACHE: '1' }, stdio: 'inherit' });
}

/**
 * The browser app: ui/src/main.ts and ui/src/styles.css, minified, into dist/ui/assets/ under
 * content-hashed names (served with an immutable cache), with dist/ui/manifest.json naming them
 * for the server's HTML shell. The icon keeps its name (browsers and bookmarks ask for it by name).
 * The script and style sheet get precompressed copies (.br, .gz) the server picks by
 * Accept-Encoding. Returns the manifest.
 */
export async function bundleUi({ root = ROOT, outdir = join(root, 'dist/ui') } = {}) {
  const assets = join(outdir, 'assets');
  // Old hashed files would pile up build after build.
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [
      { in: 'ui/src/main.ts', out: 'app' },
      { in: 'ui/src/styles.css', out: 'app' },
    ],
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    // Browsers from 2022 on (<dialog> is everywhere by then; color-mix() in the CSS has fallbacks).
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const manifest = { files: [] };
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    const name = relative(assets, join(root, file));
    manifest.files.push(name);
    if (output.entryPoint === 'ui/src/main.ts') manifest.js = name;
    if (output.entryPoint === 'ui/src/styles.css') manifest.css = name;
  }
  await copyFile(join(root, 'ui/icon.svg'), join(assets, 'icon.svg'));
  manifest.icon = 'icon.svg';
  manifest.files.push('icon.svg');
  manifest.files.sort();
  if (!manifest.js || !manifest.css) throw new Error(`bundleUi: esbuild wrote no app.js or app.css (${manifest.files.join(', ')})`);
  for (const name of [manifest.js, manifest.css]) {
    const bytes = await readFile(join(assets, name));
    await writeFile(join(assets, `${name}.br`), brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    await writeFile(join(assets, `${name}.gz`), gzipSync(bytes, { level: 9 }));
  }
  manifest.encodings = ['br', 'gzip'];
  await mkdir(outdir, { recursive: true });
  await writeFile(join(outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bundleServer();
  await bundleUi();
}
