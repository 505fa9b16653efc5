// What the browser tests run on: the production bundle (dist/stowage.mjs, built by `npm run
// build`, with the UI's assets in dist/ui/) as a real process on 127.0.0.1, and Debian's chromium
// driven by playwright-core. Screenshots go to test-artifacts/ui/ (kept by CI as artifacts).
// The suite is run by test/e2e/ui.sh with vitest.browser.config.ts; `npm test` leaves it out.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { writeHtpasswd } from '../helpers/credentials.js';
import { exited, freePort } from '../helpers/stowage-process.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const ARTIFACTS = path.join(REPO, 'test-artifacts/ui');
const BUNDLE = path.join(REPO, 'dist/stowage.mjs');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface RegistryProcess {
  url: string;
  /** host:port, as clients name the registry. */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Users and passwords, with access rules (YAML lines under stowage.auth.access). */
  users?: Record<string, string>;
  /** How the users sign in: Basic (auth.htpasswd), or Bearer tokens from stowage's own /token. */
  auth?: 'htpasswd' | 'token';
  access?: string[];
  /** Users of stowage.auth.admins. */
  admins?: string[];
  /** More YAML lines at the top level. */
  extra?: string[];
  /** YAML lines under `stowage:` (beside the auth section the options above write). */
  stowage?: string[];
}

/** Starts `node dist/stowage.mjs serve` on a free port with a data directory of its own. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryProcess> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-ui-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: { level: warn, accesslog: { disabled: true } }',
    `http: { addr: "127.0.0.1:${port}" }`,
    `storage: { filesystem: { rootdirectory: "${path.join(dir, 'data')}" }, delete: { enabled: true } }`,
  ];
  const stowage: string[] = [];
  if (options.users) {
    const htpasswd = path.join(dir, 'htpasswd');
    await writeHtpasswd(htpasswd, options.users);
    const stowageAuth: string[] = [];
    if (options.auth === 'token') {
      lines.push(`auth: { token: { realm: "http://127.0.0.1:${port}/token", service: stowage-ui, issuer: stowage-ui-issuer } }`);
      stowageAuth.push(`    issuer: { htpasswd: "${htpasswd}" }`);
    } else {
      lines.push(`auth: { htpasswd: { realm: stowage, path: "${htpasswd}" } }`);
    }
    if (options.admins) stowageAuth.push(`    admins: ${JSON.stringify(options.admins)}`);
    if (options.access) stowageAuth.push('    access:', ...options.access.map((l) => `      ${l}`));
    if (stowageAuth.length > 0) stowage.push('  auth:', ...stowageAuth);
  }
  stowage.push(...(options.stowage ?? []).map((l) => `  ${l}`));
  if (stowage.length > 0) lines.push('stowage:', ...stowage);
  lines.push(...(options.extra ?? []));
  const config = path.join(dir, 'config.yml');
  await fsp.writeFile(config, lines.join('\n') + '\n');
  const stderr: string[] = [];
  const child = spawn(process.execPath, [BUNDLE, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString());
    if (stderr.length > 50) stderr.shift();
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForServer(child, url, stderr);
  return {
    url,
    host: `127.0.0.1:${port}`,
    dir,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForServer(child: ChildProcess, url: string, stderr: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`stowage exited: ${stderr.join('')}`);
    // Any answer will do: with auth on, /v2/ is a 401.
    const answered = await fetch(`${url}/v2/`).then(
      () => true,
      () => false,
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`stowage did not answer within 30 s: ${stderr.join('')}`);
    // Polling for readiness, not racing time: the deadline above is the only bound.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface PageOptions {
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
  /** For axe-core, which is injected as a script the page's CSP would refuse. */
  bypassCSP?: boolean;
}

/**
 * A fresh context (no session storage carried over) and page. Every request the page makes is
 * recorded, and any script error or CSP violation is collected: the tests assert there are none.
 */
export async function openPage(
  browser: Browser,
  options: PageOptions = {},
): Promise<{ context: BrowserContext; page: Page; requests: string[]; errors: string[] }> {
  const context = await browser.newContext({
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1280, height: 860 },
    bypassCSP: options.bypassCSP ?? false,
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(`${request.method()} ${new URL(request.url()).pathname}${new URL(request.url()).search}`));
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  return { context, page, requests, errors };
}

/** Saves a full-page screenshot as test-artifacts/ui/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await fsp.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Runs axe-core on the page as it is; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: path.join(REPO, 'node_modules/axe-core/axe.min.js') });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
