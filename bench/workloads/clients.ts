// `--clients N`: N concurrent clients for a bounded time against each registry in turn (stowage
// first). Each client loops: 80% pull one of 4 images (manifest, config and 3 layers, all checked
// byte for byte), 20% push a new image (a unique 32 KiB layer, config, manifest). Every request
// must succeed or be refused cleanly (429/503 with Retry-After, retried up to 3 times after the
// wait); anything else, and any request unanswered after 60 s, is a failure. Afterwards every
// acknowledged push is pulled back and compared byte for byte.
import type { BenchContext } from '../context.js';
import { buildImage, KiB, MiB, randomBuffer, type Image } from '../content.js';
import { expectManifest, keepAliveAgent, pullBlob, pushBlob, pushImage, putManifest, Shed, TimedOut, type Target } from '../client.js';
import { forEachConcurrent, sleep } from '../pool.js';
import { formatNumber } from '../runner.js';
import type { Section, TargetCheck } from '../report.js';
import { RssSampler } from '../rss.js';

const REQUEST_LIMIT_MS = 60_000;
const ATTEMPTS = 4;
const GRACE_MS = 120_000;
/** My reading of "RSS stays bounded" for 1,000 clients on this machine. */
const RSS_BOUND_MiB = 512;

interface Counters {
  pulls: number;
  pushes: number;
  requestsShed: number;
  abandoned: number;
  failures: number;
  hangs: number;
  firstFailures: string[];
  firstHangs: string[];
}

interface ClientsResult {
  target: string;
  counters: Counters;
  unfinished: number;
  acknowledged: number;
  verified: number;
  verifyErrors: string[];
  peakMiB: number;
  seconds: number;
}

class Abandoned extends Error {}

/** Runs one step, waiting out clean refusals (bounded); rethrows anything else. */
async function step<T>(counters: Counters, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof Shed)) throw error;
      counters.requestsShed++;
      if (attempt >= ATTEMPTS) throw new Abandoned();
      await sleep(Math.min(error.retryAfterMs, 2000) * (0.5 + Math.random()));
    }
  }
}

async function clientsOne(ctx: BenchContext, server: Target, clients: number, seconds: number, images: Image[]): Promise<ClientsResult> {
  for (let k = 0; k < images.length; k++) await pushImage(server, `load/pull${k}`, 'v1', images[k]);
  const agent = keepAliveAgent(clients);
  const target: Target = { ...server, agent, timeoutMs: REQUEST_LIMIT_MS };
  const counters: Counters = { pulls: 0, pushes: 0, requestsShed: 0, abandoned: 0, failures: 0, hangs: 0, firstFailures: [], firstHangs: [] };
  const acknowledged: Array<{ name: string; tag: string; image: Image }> = [];
  const layerBase = randomBuffer(32 * KiB);
  let inFlight = 0;

  const pull = async (image: Image, name: string) => {
    await step(counters, () => expectManifest(target, name, 'v1', image.manifest, image.manifestDigest));
    await step(counters, () => pullBlob(target, name, image.configDigest, image.config));
    for (let i = 0; i < image.layers.length; i++) await step(counters, () => pullBlob(target, name, image.layerDigests[i], image.layers[i]));
  };
  const push = async (client: number, n: number) => {
    const layer = Buffer.from(layerBase);
    layer.write(`client ${client} push ${n} ${server.name}`, 0);
    const image = buildImage([layer], `client ${client} push ${n}`);
    const name = `load/push${client % 50}`;
    const tag = `c${client}n${n}`;
    await step(counters, () => pushBlob(target, name, image.layers[0], image.layerDigests[0]));
    await step(counters, () => pushBlob(target, name, image.config, image.configDigest));
    await step(counters, () => putManifest(target, name, tag, image.manifest, image.manifestDigest));
    acknowledged.push({ name, tag, image });
  };

  const sampler = new RssSampler(server.pid, 250);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const work = forEachConcurrent(clients, clients, async (client) => {
    for (let n = 0; performance.now() < deadline; n++) {
      inFlight++;
      try {
        if ((client * 13 + n) % 5 === 0) {
          await push(client, n);
          counters.pushes++;
        } else {
          const k = (client + n) % images.length;
          await pull(images[k], `load/pull${k}`);
          counters.pulls++;
        }
      } catch (error) {
        if (error instanceof Abandoned) counters.abandoned++;
        else {
          const [count, messages] =
            error instanceof TimedOut ? (['hangs', counters.firstHangs] as const) : (['failures', counters.firstFailures] as const);
          counters[count]++;
          if (messages.length < 5) messages.push((error as Error).message);
        }
      } finally {
        inFlight--;
      }
    }
  });
  // Clients stop starting work at the deadline; whatever is still running after the grace is hung.
  const finished = await Promise.race([work.then(() => true), sleep(seconds * 1000 + GRACE_MS).then(() => false)]);
  const unfinished = finished ? 0 : inFlight;
  agent.destroy();
  const peakMiB = sampler.stop() / MiB;
  const elapsed = (performance.now() - started) / 1000;

  ctx.log(`[clients] ${server.name}: verifying ${acknowledged.length} acknowledged pushes`);
  const verifyErrors: string[] = [];
  let verified = 0;
  await forEachConcurrent(acknowledged.length, 16, async (i) => {
    const { name, tag, image } = acknowledged[i];
    try {
      await expectManifest(server, name, tag, image.manifest, image.manifestDigest);
      await pullBlob(server, name, image.configDigest, image.config);
      await pullBlob(server, name, image.layerDigests[0], image.layers[0]);
      verified++;
    } catch (error) {
      if (verifyErrors.length < 5) verifyErrors.push((error as Error).message);
    }
  });
  return { target: server.name, counters, unfinished, acknowledged: acknowledged.length, verified, verifyErrors, peakMiB, seconds: elapsed };
}

export async function clientsRun(ctx: BenchContext, targets: Target[], clients: number, seconds: number): Promise<Section> {
  const images = Array.from({ length: 4 }, (_, k) =>
    buildImage([randomBuffer(64 * KiB), randomBuffer(256 * KiB), randomBuffer(MiB)], `load image ${k}`),
  );
  const results: ClientsResult[] = [];
  for (const target of targets) {
    ctx.log(`== ${clients} clients on ${target.name} for ${seconds} s`);
    const r = await clientsOne(ctx, target, clients, seconds, images);
    const c = r.counters;
    ctx.log(
      `[clients] ${target.name}: ${c.pulls} pulls, ${c.pushes} pushes, ${c.requestsShed} shed, ${c.abandoned} abandoned, ${c.failures} failures, ${c.hangs + r.unfinished} hung, ${r.verified}/${r.acknowledged} verified, peak RSS ${r.peakMiB.toFixed(0)} MiB`,
    );
    results.push(r);
  }
  const rows = [
    '| registry | image pulls done | pushes acknowledged | 429/503 with Retry-After | operations abandoned after 4 refusals | failures (wrong answer or error) | hung (no answer in 60 s) | acknowledged pushes pulled back intact | peak RSS, MiB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => {
      const c = r.counters;
      const first = (messages: string[]) => (messages.length ? ` (first: ${messages[0].slice(0, 200)})` : '');
      return `| ${r.target} | ${c.pulls} (${formatNumber(c.pulls / r.seconds)}/s) | ${c.pushes} | ${c.requestsShed} | ${c.abandoned} | ${c.failures}${first(c.firstFailures)} | ${c.hangs + r.unfinished}${first(c.firstHangs)} | ${r.verified} of ${r.acknowledged}${first(r.verifyErrors)} | ${formatNumber(r.peakMiB, 0)} |`;
    }),
  ];
  const s = results.find((r) => r.target === 'stowage');
  const checks: TargetCheck[] = s
    ? [
        {
          target: `${clients} concurrent clients: only successes or clean 429/503, none hung, every acknowledged push intact, RSS <= ${RSS_BOUND_MiB} MiB`,
          measured: `${s.counters.failures} failures, ${s.counters.hangs + s.unfinished} hung, ${s.verified}/${s.acknowledged} intact, peak ${formatNumber(s.peakMiB, 0)} MiB`,
          verdict:
            s.counters.failures === 0 &&
            s.counters.hangs + s.unfinished === 0 &&
            s.verified === s.acknowledged &&
            s.acknowledged > 0 &&
            s.peakMiB <= RSS_BOUND_MiB
              ? 'met'
              : 'missed',
        },
      ]
    : [];
  return {
    title: `Load held: ${clients} concurrent clients, ${seconds} s per registry`,
    markdown: `Each client loops: 80% pulls of one of 4 images (64 KiB, 256 KiB and 1 MiB layers), 20% pushes of a new image (32 KiB layer). A 429/503 with Retry-After is waited out (at most 2 s) and retried up to ${ATTEMPTS - 1} times. "RSS bounded" is read as at most ${RSS_BOUND_MiB} MiB.\n\n${rows.join('\n')}`,
    targets: checks,
  };
}
