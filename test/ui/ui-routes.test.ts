// The web UI as the server serves it (server/routes/ui.ts): the HTML shell with its
// Content-Security-Policy and no inline script, the built assets with their types and cache
// headers, deep links, GET / for browsers and for tools, the 404 and 503 answers, the JavaScript
// budget, and finding dist/ui/ from tsc's output and from the one-file bundle alike.
// dist/ui/ is built by the run's globalSetup (test/helpers/ui-global-setup.ts).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync, brotliDecompressSync, gzipSync } from 'node:zlib';
import Koa from 'koa';
import Router from '@koa/router';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.mjs';
import { errorMiddleware } from '../../server/errors.js';
import { silentLogger } from '../../server/logger.js';
import { UI_CONTENT_SECURITY_POLICY, UiFiles, defaultUiDirectory, registerUiRoutes, type UiManifest } from '../../server/routes/ui.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(REPO, 'dist/ui/manifest.json'), 'utf8')) as UiManifest;
/** The budget for the JavaScript a browser downloads. */
const JS_BUDGET_GZIPPED = 100 * 1024;

/** The bytes as sent (supertest and fetch would decompress them). */
async function rawGet(port: number, url: string, acceptEncoding: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get({ host: '127.0.0.1', port, path: url, headers: { 'Accept-Encoding': acceptEncoding } }, resolve).on('error', reject),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { headers: res.headers, body: Buffer.concat(chunks) };
}

function expectShell(res: supertest.Response): void {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toBe(UI_CONTENT_SECURITY_POLICY);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['referrer-policy']).toBe('same-origin');
  expect(res.headers['cache-control']).toBe('no-cache');
  expect(res.text).toContain(`<script type="module" src="/ui/assets/${manifest.js}"></script>`);
  expect(res.text).toContain(`<link rel="stylesheet" href="/ui/assets/${manifest.css}">`);
}

describe('the web UI routes', () => {
  const registry = useTestRegistry(filesystemDriverFactory, { shared: true });

  it('serves a shell with a strict CSP, no inline script or style, a viewport, a title and a noscript text', async () => {
    const res = await registry().request.get('/ui/');
    expectShell(res);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    // Every script has a src; no style element or attribute; no inline handler.
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(scripts[0][1]).toContain('src=');
    expect(scripts[0][2]).toBe('');
    expect(res.text).not.toMatch(/<style|style=|\son[a-z]+=/i);
    expect(res.text).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(res.text).toMatch(/<meta name="theme-color"/);
    expect(res.text).toContain('<title>stowage</title>');
    expect(res.text).toMatch(/<noscript>[^<]*<p>[^<]*JavaScript/);
    expect(res.text).toContain('<link rel="icon" href="/ui/assets/icon.svg" type="image/svg+xml">');
  });

  it('answers the same shell for /ui and for every deep link, so the app routes on the client', async () => {
    const reg = registry();
    const first = await reg.request.get('/ui');
    expectShell(first);
    for (const link of [
      '/ui/r/team/web',
      '/ui/r/team/web/t/v1.2',
      `/ui/r/team/web/d/sha256:${'a'.repeat(64)}?platform=x`,
      '/ui/proxies',
      '/ui/usage',
      '/ui/retention',
      '/ui/sign-in',
      '/ui/no/such/page',
    ]) {
      const res = await reg.request.get(link);
      expectShell(res);
      expect(res.text, link).toBe(first.text);
    }
    const head = await reg.request.head('/ui/r/team/web');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(first.text)));
  });

  it('serves the script and the style sheet with their types, cached for a year as immutable', async () => {
    const reg = registry();
    for (const [file, type] of [
      [manifest.js, 'text/javascript; charset=utf-8'],
      [manifest.css, 'text/css; charset=utf-8'],
    ]) {
      // Hashed names: the name changes with the content.
      expect(file).toMatch(/^app-[A-Z0-9]{8}\.(js|css)$/);
      const res = await asBytes(reg.request.get(`/ui/assets/${file}`).set('Accept-Encoding', 'identity'));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect((res.body as Buffer).equals(readFileSync(path.join(REPO, 'dist/ui/assets', file)))).toBe(true);
    }
  });

  it('sends the precompressed copy the client accepts, brotli first', async () => {
    const reg = registry();
    const original = readFileSync(path.join(REPO, 'dist/ui/assets', manifest.js));
    const br = await rawGet(reg.port, `/ui/assets/${manifest.js}`, 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(original)).toBe(true);
    const gz = await rawGet(reg.port, `/ui/assets/${manifest.js}`, 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(original)).toBe(true);
    expect(gz.body.length).toBeLessThan(original.length / 2);
  });

  it('serves the SVG icon under its own name with a day of cache, and keeps /favicon.ico', async () => {
    const reg = registry();
    const svg = await asBytes(reg.request.get('/ui/assets/icon.svg'));
    expect(svg.status).toBe(200);
    expect(svg.headers['content-type']).toBe('image/svg+xml');
    expect(svg.headers['cache-control']).toBe('public, max-age=86400');
    expect((svg.body as Buffer).toString()).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect((await reg.request.get('/favicon.ico')).status).toBe(200);
  });

  it('answers a JSON 404 for an asset the build did not write, never the shell or a file outside', async () => {
    const reg = registry();
    for (const asset of [
      '/ui/assets/app-NOSUCH00.js',
      '/ui/assets/manifest.json',
      '/ui/assets/..%2Fmanifest.json',
      '/ui/assets/x/y.js',
      `/ui/assets/${manifest.js}.br`,
    ]) {
      const res = await reg.request.get(asset);
      expect(res.status, asset).toBe(404);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body.errors[0].code).toBe('NAME_UNKNOWN');
    }
  });

  it('sends browsers from / to /ui/ and keeps answering JSON to tools that ask for it', async () => {
    const reg = registry();
    for (const accept of ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', '*/*', undefined]) {
      const req = reg.request.get('/').redirects(0);
      const res = await (accept ? req.set('Accept', accept) : req);
      expect(res.status, accept).toBe(302);
      expect(res.headers.location).toBe('/ui/');
    }
    const json = await reg.request.get('/').set('Accept', 'application/json');
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ name: 'stowage', repositoryCount: 0, repositories: [] });
  });

  it('keeps the JavaScript under 100 KB gzipped', () => {
    const js = readFileSync(path.join(REPO, 'dist/ui/assets', manifest.js));
    const gzipped = gzipSync(js, { level: 9 }).length;
    expect(gzipped).toBeLessThan(JS_BUDGET_GZIPPED);
    // What the app bundles: Preact and htm, nothing larger slipped in.
    expect(js.length).toBeLessThan(4 * JS_BUDGET_GZIPPED);
  });
});

describe('the web UI without a build', () => {
  it('answers /ui with a clear 503 instead of failing', async () => {
    const app = new Koa();
    app.use(errorMiddleware(silentLogger()));
    const router = new Router();
    registerUiRoutes(router, new UiFiles(path.join(os.tmpdir(), 'stowage-no-such-ui')));
    app.use(router.routes());
    const request = supertest(app.callback());
    for (const url of ['/ui/', '/ui/r/x', `/ui/assets/${manifest.js}`]) {
      const res = await request.get(url);
      expect(res.status, url).toBe(503);
      expect(res.body.errors[0]).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('npm run build') });
    }
  });

  it('picks up a rebuild under a running server', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-ui-'));
    try {
      const files = new UiFiles(dir);
      await fsp.mkdir(path.join(dir, 'assets'));
      const write = (m: Partial<UiManifest>, mtime: Date) =>
        fsp
          .writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ css: 'a.css', icon: 'icon.svg', files: [], ...m }))
          .then(() => fsp.utimes(path.join(dir, 'manifest.json'), mtime, mtime));
      await write({ js: 'app-OLD.js' }, new Date(1_000_000));
      expect((await files.current()).shell.toString()).toContain('app-OLD.js');
      await write({ js: 'app-NEW.js' }, new Date(2_000_000));
      expect((await files.current()).shell.toString()).toContain('app-NEW.js');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('finding dist/ui', () => {
  it('is dist/ui beside package.json when running from the sources', () => {
    expect(defaultUiDirectory()).toBe(path.join(REPO, 'dist', 'ui'));
  });

  it('walks up from tsc output (dist/server/routes/) and from the one-file bundle (dist/) to package.json', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-ui-root-'));
    try {
      await fsp.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'stowage', version: '9.9.9' }));
      await fsp.writeFile(
        path.join(dir, 'main.ts'),
        `import { defaultUiDirectory } from ${JSON.stringify(path.join(REPO, 'server/routes/ui.js'))};\nconsole.log(defaultUiDirectory());\n`,
      );
      for (const outfile of ['dist/stowage.mjs', 'dist/server/routes/ui.mjs']) {
        await bundle({ entryPoints: [path.join(dir, 'main.ts')], outfile: path.join(dir, outfile) });
        const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, outfile)], { timeout: 15_000 });
        expect(stdout.trim(), outfile).toBe(path.join(dir, 'dist', 'ui'));
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
