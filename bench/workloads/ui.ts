// The web UI (issue 15) on a large registry: stowage filled through the API with one repository
// of 100,000 tags among many (the scale workload's shape and filler), then three pages opened in
// Debian's chromium (playwright-core), each round in a fresh browser context (nothing cached):
// home, the 100,000-tag repository and an image. Per page: first contentful paint, the time until
// the page shows its data (its rows are in the DOM), the requests the page made (all, and to the
// API), the server time of those API requests (request sent to first byte, summed) and the bytes
// transferred. The reference registry has no UI; beside it, the same registry is made on the
// reference and the data a repository page needs is fetched from both over HTTP: stowage's UI asks
// for one page of tags with what each points at, a UI for registry:2 (joxit/docker-registry-ui,
// klausmeyer's browser) the whole tags list and then one manifest per tag shown.
import { existsSync } from 'node:fs';
import type { BenchContext } from '../context.js';
import type { Section } from '../report.js';
import { formatNumber, summarize } from '../runner.js';
import { launchRegistry, type LaunchedServer } from '../servers.js';
import { MANIFEST_ACCEPT, request, type Target } from '../client.js';
import { forEachConcurrent } from '../pool.js';
import { BIG_REPOSITORY, createRegistry, describeShape, scaleImage, tagName, type ScaleShape } from './scale-registry.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface UiPage {
  id: string;
  title: string;
  path: string;
  /** Shown once the page has rendered what it fetched. */
  ready: string;
}

export interface PageSample {
  fcpMs: number;
  readyMs: number;
  requests: number;
  apiRequests: number;
  serverMs: number;
  kilobytes: number;
}

/** Fetching what a repository page shows for its first 100 tags, over HTTP. */
export interface DataSample {
  ms: number;
  requests: number;
  kilobytes: number;
}

const SHOWN_TAGS = 100;
/** Requests a browser has open to one host at a time. */
const BROWSER_CONNECTIONS = 6;

export function uiShape(quick: boolean): ScaleShape {
  return quick ? { repositories: 500, tags: 105_000, bigTags: 100_000 } : { repositories: 2000, tags: 110_000, bigTags: 100_000 };
}

function pages(): UiPage[] {
  return [
    { id: 'home', title: 'home (repository list, totals)', path: '/ui/', ready: '[data-testid="repository-row"]' },
    { id: 'repository', title: `repository of 100,000 tags (${BIG_REPOSITORY})`, path: `/ui/r/${BIG_REPOSITORY}`, ready: '[data-testid="tag-row"]' },
    { id: 'image', title: 'image (layers, config, history)', path: `/ui/r/${BIG_REPOSITORY}/t/${tagName(0)}`, ready: '[data-testid="layer-row"]' },
  ];
}

export async function uiRun(ctx: BenchContext): Promise<Section> {
  const { options, workDir, log } = ctx;
  const title = 'Web UI on a large registry (issue 15)';
  if (!existsSync(CHROMIUM)) return { title, markdown: `Not measured: ${CHROMIUM} is missing (apt-get install chromium).` };
  const { chromium } = await import('playwright-core');
  const shape = uiShape(options.quick);
  const server = await launchRegistry('stowage', workDir, 'ui', { stowageCli: options.stowageCli });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const samples = new Map<string, PageSample[]>();
  const data = { stowage: [] as DataSample[], reference: [] as DataSample[] };
  let reference: LaunchedServer | undefined;
  try {
    const image = scaleImage();
    log(`[ui] filling stowage with ${describeShape(shape)}`);
    const creation = await createRegistry(server.target, shape, image, options.scale.createConcurrency, log);
    log(`[ui] filled in ${Math.round(creation.seconds)} s`);
    reference = await launchRegistry('reference', workDir, 'ui-reference');
    log(`[ui] filling the reference with ${describeShape(shape)}`);
    await createRegistry(reference.target, shape, image, options.scale.createConcurrency, log);
    for (let round = 0; round <= options.rounds; round++) {
      // Round 0 warms both up and is not kept.
      const s = await stowageTagData(server.target);
      const r = await referenceTagData(reference.target);
      if (round > 0) {
        data.stowage.push(s);
        data.reference.push(r);
      }
    }
    const base = server.target.base.toString().replace(/\/$/, '');
    // A warm-up visit: the server's first answers (its caches, the JIT) are not what is measured.
    for (const page of pages()) await visit(browser, base, page);
    for (let round = 0; round < options.rounds; round++) {
      for (const page of pages()) {
        const sample = await visit(browser, base, page);
        (samples.get(page.id) ?? samples.set(page.id, []).get(page.id)!).push(sample);
        log(`[ui] round ${round + 1} ${page.id}: ready ${Math.round(sample.readyMs)} ms, ${sample.apiRequests} API requests`);
      }
    }
  } finally {
    await browser.close();
    await server.stop();
    await reference?.stop();
  }
  return { title, markdown: render(shape, options.rounds, samples) + renderData(data) };
}

async function timed(target: Target, path: string, accept?: string): Promise<number> {
  const reply = await request(target, 'GET', path, { headers: accept ? { Accept: accept } : {} });
  if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status}`);
  return reply.length;
}

/** Stowage's UI: one page of tags with digest, platforms, size and times (GET /api/v1/tags). */
async function stowageTagData(target: Target): Promise<DataSample> {
  const started = performance.now();
  const bytes = await timed(target, `/api/v1/tags/${BIG_REPOSITORY}?n=${SHOWN_TAGS}`);
  return { ms: performance.now() - started, requests: 1, kilobytes: bytes / 1024 };
}

/** A registry:2 UI: the whole tags list, then each shown tag's manifest, six at a time as a browser would. */
async function referenceTagData(target: Target): Promise<DataSample> {
  const started = performance.now();
  let bytes = await timed(target, `/v2/${BIG_REPOSITORY}/tags/list`);
  await forEachConcurrent(SHOWN_TAGS, BROWSER_CONNECTIONS, async (i) => {
    bytes += await timed(target, `/v2/${BIG_REPOSITORY}/manifests/${tagName(i)}`, MANIFEST_ACCEPT);
  });
  return { ms: performance.now() - started, requests: 1 + SHOWN_TAGS, kilobytes: bytes / 1024 };
}

function renderData(data: { stowage: DataSample[]; reference: DataSample[] }): string {
  const median = (values: number[]) => summarize(values)?.median;
  const row = (name: string, samples: DataSample[]) =>
    `| ${name} | ${formatNumber(median(samples.map((x) => x.ms)) ?? NaN, 1)} | ${samples[0]?.requests ?? ''} | ${formatNumber(median(samples.map((x) => x.kilobytes)) ?? NaN, 0)} |`;
  const s = median(data.stowage.map((x) => x.ms));
  const r = median(data.reference.map((x) => x.ms));
  return [
    '',
    '',
    `The data a repository page needs for its first ${SHOWN_TAGS} tags of ${BIG_REPOSITORY} (100,000 tags), fetched over HTTP from each registry filled alike: stowage's UI asks \`/api/v1/tags\` for one page (digest, platforms, size, times of each tag); a UI for the reference must fetch the whole tags list and then one manifest per tag shown (${BROWSER_CONNECTIONS} at a time, a browser's limit per host). Median over rounds after a warm-up.`,
    '',
    '| registry | time, ms | requests | received, KiB |',
    '|---|---|---|---|',
    row('stowage', data.stowage),
    row('reference', data.reference),
    '',
    s !== undefined && r !== undefined ? `Time, stowage / reference: ${formatNumber(s / r, 3)} (${formatNumber(r / s, 1)} times faster).` : '',
  ].join('\n');
}

type Browser = Awaited<ReturnType<(typeof import('playwright-core'))['chromium']['launch']>>;

async function visit(browser: Browser, base: string, target: UiPage): Promise<PageSample> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    const page = await context.newPage();
    let requests = 0;
    let apiRequests = 0;
    page.on('request', (request) => {
      requests++;
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/api/') || path.startsWith('/v2/')) apiRequests++;
    });
    await page.goto(base + target.path);
    await page.waitForSelector(target.ready, { timeout: 60_000 });
    const readyMs = await page.evaluate(() => performance.now());
    const timing = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN;
      const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
      const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      let serverMs = 0;
      let bytes = navigation.transferSize;
      for (const r of resources) {
        bytes += r.transferSize;
        const path = new URL(r.name).pathname;
        if (path.startsWith('/api/') || path.startsWith('/v2/')) serverMs += r.responseStart - r.requestStart;
      }
      return { fcp, serverMs, bytes };
    });
    return { fcpMs: timing.fcp, readyMs, requests, apiRequests, serverMs: timing.serverMs, kilobytes: timing.bytes / 1024 };
  } finally {
    await context.close();
  }
}

function render(shape: ScaleShape, rounds: number, samples: Map<string, PageSample[]>): string {
  const cell = (values: number[], digits = 0) => {
    const s = summarize(values.filter((v) => Number.isFinite(v)));
    if (!s) return '';
    const f = (v: number) => formatNumber(v, digits);
    return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
  };
  const out = [
    `stowage on its filesystem with ${describeShape(shape)} (filled through the API, every tag on one small manifest), default config (SQLite metadata database). ` +
      `Each page is opened ${rounds} times in Debian's chromium (headless, 1280×860), every time in a fresh browser context so nothing is cached, after one warm-up visit of each. ` +
      '"ready" is the time from navigation start until the page has rendered the rows it fetched; "server time" sums, over the API requests, the time from sending each to its first byte. ' +
      'Cells: median (min–max) over rounds. The reference registry has no UI; a UI for it lists a repository by fetching its whole tags list (not paged unless asked) and then one manifest per tag shown.',
    '',
    '| page | first contentful paint, ms | ready, ms | requests (all) | API requests | server time, ms | transferred, KiB |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const page of pages()) {
    const s = samples.get(page.id) ?? [];
    const col = (key: keyof PageSample, digits = 0) =>
      cell(
        s.map((x) => x[key]),
        digits,
      );
    out.push(
      `| ${page.title} | ${col('fcpMs')} | ${col('readyMs')} | ${col('requests')} | ${col('apiRequests')} | ${col('serverMs', 1)} | ${col('kilobytes')} |`,
    );
  }
  return out.join('\n');
}
