// Pull-through proxies (issue 4): stowage and the reference, each in Distribution's proxy mode
// (`proxy: { remoteurl }`), in front of the same upstream: a third registry (docker-registry)
// holding the 5-layer image, behind a relay that counts the bytes it serves. Every round starts a
// fresh proxy with an empty cache, so each cold pull is cold.
//   proxy-pull     skopeo copy through the proxy, cold (cache empty) then warm (same proxy again),
//                  then manifest GETs by tag one after another: a warm pull's part that differs
//   proxy-pull-rtt20  the same with the upstream 20 ms away (the relay holds each request 20 ms):
//                  on loopback an upstream round trip costs nothing, which no real upstream does
//   proxy-pull-16  16 skopeo copies at once through a fresh proxy: the upstream bytes they cost
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import type { Image } from '../content.js';
import { MiB } from '../content.js';
import { expectManifest, pushImage, WrongAnswer, type Target } from '../client.js';
import { seconds } from '../pool.js';
import { summarize, type Workload } from '../runner.js';
import { launchRegistry, type LaunchedServer, type RegistryKind } from '../servers.js';
import { startCountingRelay, type CountingRelay } from '../upstream-counter.js';
import { skopeoPull, SKOPEO_REPOSITORY, SKOPEO_TAG } from './skopeo-copy.js';

/**
 * Warm pulls per round, of which the round keeps the median: one pull's spread (skopeo writing
 * 117 MiB; +-5%) is as large as what a proxy can add to it, so one sample a round cannot tell.
 */
const WARM_PULLS = 5;

/** Manifest GETs by tag timed one after another after the warm pull. */
const MANIFEST_GETS = 50;

/** The distant upstream's round trip: a registry in the same region; Docker Hub is usually farther. */
export const UPSTREAM_RTT_MS = 20;

/** Bytes of one copy of the image as a registry serves it: every blob and the manifest. */
export function imageBytes(image: Image): number {
  return image.layers.reduce((sum, l) => sum + l.length, 0) + image.config.length + image.manifest.length;
}

export function proxyWorkloads({ options, workDir, layeredImage }: BenchContext): Workload<Target>[] {
  let upstream: { server: LaunchedServer; relays: Map<number, CountingRelay> } | undefined;

  /** The upstream registry with the image pushed, and a counting relay in front of it that adds latencyMs. */
  async function ensureUpstream(latencyMs: number): Promise<CountingRelay> {
    if (!upstream) {
      rmSync(join(workDir, 'proxy-upstream'), { recursive: true, force: true });
      const server = await launchRegistry('reference', workDir, 'proxy-upstream', { name: 'upstream' });
      try {
        await pushImage(server.target, SKOPEO_REPOSITORY, SKOPEO_TAG, layeredImage());
      } catch (error) {
        await server.stop();
        throw error;
      }
      upstream = { server, relays: new Map() };
    }
    let relay = upstream.relays.get(latencyMs);
    if (!relay) upstream.relays.set(latencyMs, (relay = await startCountingRelay(upstream.server.target.base, latencyMs)));
    return relay;
  }

  async function stopUpstream(): Promise<void> {
    if (!upstream) return;
    const { server, relays } = upstream;
    upstream = undefined;
    for (const relay of relays.values()) await relay.stop();
    await server.stop();
    rmSync(join(workDir, 'proxy-upstream'), { recursive: true, force: true });
  }

  /** Runs `use` against a new proxy of the target's kind with an empty cache; removes it after. */
  async function withFreshProxy<T>(
    target: Target,
    id: string,
    latencyMs: number,
    use: (proxy: Target, relay: CountingRelay) => Promise<T>,
  ): Promise<T> {
    const relay = await ensureUpstream(latencyMs);
    const dir = join(workDir, id);
    rmSync(dir, { recursive: true, force: true });
    const proxy = await launchRegistry(target.name as RegistryKind, workDir, id, {
      name: target.name,
      stowageCli: options.stowageCli,
      proxyUrl: relay.url,
    });
    try {
      relay.take(); // what start-up cost upstream (the reference pings /v2/) is not the pull's
      return await use(proxy.target, relay);
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const sizes = options.skopeoLayersMiB;
  const clients = options.proxyClients;
  const imageLabel = `${sizes.length}-layer image (${sizes.join(', ')} MiB)`;

  /** Cold then warm skopeo pull through a fresh proxy whose upstream is latencyMs away. */
  function pullWorkload(latencyMs: number): Workload<Target> {
    return {
      id: latencyMs ? `proxy-pull-rtt${latencyMs}` : 'proxy-pull',
      title: `Pull-through proxy: skopeo copy of the ${imageLabel}, cold (empty cache) then warm, upstream ${latencyMs ? `${latencyMs} ms away` : 'on loopback'}`,
      metrics: [
        { key: 'cold', label: 'cold pull, wall time', unit: 's', better: 'lower', digits: 2 },
        { key: 'warm', label: `warm pull, wall time (median of ${WARM_PULLS} a round)`, unit: 's', better: 'lower', digits: 2 },
        { key: 'coldUpstreamMiB', label: 'upstream bytes during the cold pull', unit: 'MiB', better: 'lower', digits: 1 },
        { key: 'warmUpstreamRequests', label: 'upstream requests per warm pull', unit: 'requests', better: 'lower', digits: 1 },
        { key: 'manifestMs', label: `warm manifest GET by tag, median of ${MANIFEST_GETS} in a row`, unit: 'ms', better: 'lower', digits: 2 },
      ],
      roundLimitMs: 10 * 60_000,
      teardown: stopUpstream,
      run: (target, round) =>
        withFreshProxy(target, `proxy-${latencyMs}-${target.name}-${round}`, latencyMs, async (proxy, relay) => {
          const image = layeredImage();
          const cold = await skopeoPull(proxy, join(workDir, `proxy-pull-${latencyMs}-${target.name}-${round}`), image);
          const coldTraffic = relay.take();
          // A proxy that never asked upstream for the blobs was not cold (or not a proxy).
          if (coldTraffic.blobGets < image.layers.length + 1) {
            throw new WrongAnswer(
              `cold pull through ${target.name}: only ${coldTraffic.blobGets} upstream blob GETs for ${image.layers.length + 1} blobs`,
            );
          }
          const warmPulls: number[] = [];
          for (let i = 0; i < WARM_PULLS; i++)
            warmPulls.push(await skopeoPull(proxy, join(workDir, `proxy-pull-${latencyMs}-${target.name}-${round}`), image));
          const warm = summarize(warmPulls)!.median;
          const warmTraffic = relay.take();
          // skopeo's own work (117 MiB to disk) dominates a warm pull; what a proxy adds to it is
          // answering the tag: from its cache, or after asking upstream.
          const latencies: number[] = [];
          for (let i = 0; i < MANIFEST_GETS; i++) {
            const started = performance.now();
            await expectManifest(proxy, SKOPEO_REPOSITORY, SKOPEO_TAG, image.manifest, image.manifestDigest);
            latencies.push(performance.now() - started);
          }
          relay.take();
          return {
            cold,
            warm,
            coldUpstreamMiB: coldTraffic.bytes / MiB,
            warmUpstreamRequests: warmTraffic.requests.length / WARM_PULLS,
            manifestMs: summarize(latencies)!.median,
          };
        }),
    };
  }
  return [
    pullWorkload(0),
    pullWorkload(UPSTREAM_RTT_MS),
    {
      id: `proxy-pull-${clients}`,
      title: `Pull-through proxy: ${clients} skopeo copies at once of the ${imageLabel}, cold`,
      metrics: [
        { key: 'seconds', label: 'wall time (all clients)', unit: 's', better: 'lower', digits: 2 },
        { key: 'copies', label: 'upstream bytes, in copies of the image', unit: 'copies', better: 'lower', digits: 3 },
        { key: 'blobGets', label: `upstream blob GETs (the image has ${sizes.length + 1} blobs)`, unit: 'GETs', better: 'lower', digits: 0 },
      ],
      roundLimitMs: 15 * 60_000,
      teardown: stopUpstream,
      run: (target, round) =>
        withFreshProxy(target, `proxy16-${target.name}-${round}`, 0, async (proxy, relay) => {
          const image = layeredImage();
          const started = performance.now();
          const pulls = await Promise.allSettled(
            Array.from({ length: clients }, (_, i) => skopeoPull(proxy, join(workDir, `proxy16-pull-${target.name}-${round}-${i}`), image)),
          );
          const s = seconds(started);
          const failed = pulls.find((p): p is PromiseRejectedResult => p.status === 'rejected');
          if (failed) throw failed.reason;
          const traffic = relay.take();
          // imageBlobs: what the report's target compares blobGets with (one GET per blob).
          return { seconds: s, copies: traffic.bytes / imageBytes(image), blobGets: traffic.blobGets, imageBlobs: image.layers.length + 1 };
        }),
    },
  ];
}
