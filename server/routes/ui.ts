// The web UI, served from this origin (no CORS, no CDN): the browser app that scripts/bundle.mjs
// builds from ui/ into dist/ui/. GET /ui and every /ui/<path> answer the same HTML shell (the app
// routes on the client, so deep links work); /ui/assets/<file> answers the built files, whose
// content-hashed names dist/ui/manifest.json lists, cached for a year. The shell carries a strict
// Content-Security-Policy: scripts and styles from this origin only, nothing inline.
// Registered on the router of server/router.ts; the app's own sources are ui/src/.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { sendBytes } from '../respond.js';
import { PACKAGE_ROOT } from '../version.js';

/** The UI's routes, for OPS_ROUTES (openapi.yaml's test). */
export const UI_ROUTES = [
  { method: 'GET', path: '/ui' },
  { method: 'GET', path: '/ui/{path}' },
  { method: 'GET', path: '/ui/assets/{file}' },
] as const;

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS = {
  'Content-Security-Policy': UI_CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/** Hashed names never change content: a year, and no revalidation. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  json: 'application/json',
};

/** What scripts/bundle.mjs writes to dist/ui/manifest.json. */
export interface UiManifest {
  js: string;
  css: string;
  icon: string;
  /** Every file under assets/, by name. */
  files: string[];
  /** Precompressed copies beside each file (<file>.br, <file>.gz). */
  encodings?: Array<'br' | 'gzip'>;
}

/** dist/ui/ beside package.json: found from tsc's output and from the one-file bundle alike. */
export function defaultUiDirectory(): string | undefined {
  return PACKAGE_ROOT && join(PACKAGE_ROOT, 'dist', 'ui');
}

function notBuilt(dir: string | undefined): RegistryError {
  return new RegistryError('UNAVAILABLE', 'the web UI is not built: run `npm run build` (it writes dist/ui/)', {
    status: 503,
    detail: { missing: dir ? join(dir, 'manifest.json') : 'package.json' },
  });
}

export function renderShell(manifest: UiManifest): string {
  const asset = (file: string) => `/ui/assets/${encodeURIComponent(file)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#ffffff" media="(prefers-color-scheme: light)">
<meta name="theme-color" content="#161a1e" media="(prefers-color-scheme: dark)">
<meta name="description" content="stowage: a private OCI container registry">
<title>stowage</title>
<link rel="icon" href="${asset(manifest.icon)}" type="image/svg+xml">
<link rel="alternate icon" href="/favicon.ico">
<link rel="stylesheet" href="${asset(manifest.css)}">
<script type="module" src="${asset(manifest.js)}"></script>
</head>
<body>
<noscript><p>stowage's web UI needs JavaScript. Without it, the registry API is at <code>/v2/</code> and the JSON API at <code>/api/v1/</code>.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
}

/**
 * The built UI on disk. The manifest is read again when its file changes (a rebuild under a
 * running server); hashed assets are kept in memory once read, as their names pin their bytes.
 */
export class UiFiles {
  private manifest?: { mtimeMs: number; value: UiManifest; shell: Buffer };
  private readonly cache = new Map<string, Buffer>();

  constructor(readonly dir: string | undefined = defaultUiDirectory()) {}

  async current(): Promise<{ value: UiManifest; shell: Buffer }> {
    const dir = this.dir;
    if (!dir) throw notBuilt(dir);
    const file = join(dir, 'manifest.json');
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(file)).mtimeMs;
    } catch {
      throw notBuilt(dir);
    }
    if (this.manifest?.mtimeMs !== mtimeMs) {
      const value = JSON.parse(await readFile(file, 'utf8')) as UiManifest;
      this.manifest = { mtimeMs, value, shell: Buffer.from(renderShell(value)) };
      this.cache.clear();
    }
    return this.manifest;
  }

  /** An asset's bytes (or a precompressed copy of them); undefined when the manifest does not list it. */
  async asset(name: string, encoding?: 'br' | 'gzip'): Promise<Buffer | undefined> {
    const { value } = await this.current();
    // Only names the build wrote: nothing else under (or above) dist/ui is reachable.
    if (!value.files.includes(name)) return undefined;
    const file = encoding ? `${name}.${encoding === 'br' ? 'br' : 'gz'}` : name;
    const cached = this.cache.get(file);
    if (cached) return cached;
    const bytes = await readFile(join(this.dir!, 'assets', file));
    if (name !== value.icon) this.cache.set(file, bytes);
    return bytes;
  }
}

/** The smallest copy the client accepts of those the build wrote: brotli, then gzip. */
function chooseEncoding(ctx: Context, available: UiManifest['encodings']): 'br' | 'gzip' | undefined {
  for (const encoding of available ?? []) if (ctx.acceptsEncodings([encoding]) === encoding) return encoding;
  return undefined;
}

export function registerUiRoutes(router: Router, files: UiFiles = new UiFiles()): void {
  router.get('/ui/assets/:file', async (ctx: Context) => {
    const name = ctx.params.file as string;
    const { value } = await files.current();
    const type = TYPES[name.slice(name.lastIndexOf('.') + 1)];
    if (!type || !value.files.includes(name)) {
      throw new RegistryError('NAME_UNKNOWN', 'no such file in the web UI', { status: 404, detail: { asset: name.slice(0, 200) } });
    }
    const compressible = name !== value.icon;
    const encoding = compressible ? chooseEncoding(ctx, value.encodings) : undefined;
    const bytes = await files.asset(name, encoding);
    if (!bytes) throw new RegistryError('NAME_UNKNOWN', 'no such file in the web UI', { status: 404, detail: { asset: name } });
    sendBytes(ctx, 200, type, bytes, {
      ...SECURITY_HEADERS,
      'Cache-Control': name === value.icon ? 'public, max-age=86400' : IMMUTABLE,
      'Content-Encoding': encoding,
      Vary: compressible && value.encodings?.length ? 'Accept-Encoding' : undefined,
    });
  });

  const shell = async (ctx: Context) => {
    // A file under assets/ that does not exist is a 404, not the app.
    if (ctx.path.startsWith('/ui/assets/')) {
      throw new RegistryError('NAME_UNKNOWN', 'no such file in the web UI', { status: 404, detail: { asset: ctx.path.slice(11, 211) } });
    }
    const { shell: html } = await files.current();
    // Never cached: a new build's shell names new assets.
    sendBytes(ctx, 200, 'text/html; charset=utf-8', html, { ...SECURITY_HEADERS, 'Cache-Control': 'no-cache' });
  };
  router.get('/ui', shell);
  router.get('/ui/*path', shell);
}
