// Garbage collection and the server killed at random points (SIGKILL), with real processes: the
// server (`stowage serve`, collecting every second with no grace, deleting untagged manifests)
// takes pushes from four clients while `stowage gc` runs beside it in a loop and is killed
// part way through most runs; every few seconds the server itself is killed and restarted.
// Afterwards, with a clean restart and one more collection, every tag last answered 201 points
// at what it was set to, and everything it reaches pulls and re-hashes (storage/liveness.ts).
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pusher, prng, verify, verifyListed, type Expected } from '../helpers/pusher.js';
import type { Blob } from '../helpers/content.js';
import { bundleStowage, exited, kill, makeInstallation, type Installation } from '../helpers/stowage-process.js';

const SECONDS = Number(process.env.STOWAGE_CRASH_SECONDS ?? 25);

let inst: Installation;

beforeAll(async () => {
  await bundleStowage();
  inst = await makeInstallation('stowage-crash-', ['stowage: { gc: { interval: 1s, grace: 0s, deleteuntagged: true } }']);
});

afterAll(async () => {
  await inst?.remove();
});

describe('garbage collection and the server killed at random points', () => {
  it(`loses nothing acknowledged over ${SECONDS} s of kills and restarts`, { timeout: (SECONDS + 210) * 1000 }, async () => {
    const seed = Number(process.env.STOWAGE_CRASH_SEED ?? Date.now() % 100_000);
    const random = prng(seed);
    const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
    const shared: Array<{ name: string; blob: Blob }> = [];
    const agent = supertest(inst.url);
    const counts = { serverKills: 0, gcRuns: 0, gcKills: 0, gcFinished: 0, gcBusy: 0 };
    // At least SECONDS, and on until each kind of event has happened a few times (a loaded
    // machine starts processes slowly), but never past the hard stop.
    const until = Date.now() + SECONDS * 1000;
    const hardStop = until + 90_000;
    const enough = () => counts.serverKills >= 2 && counts.gcKills >= 2 && counts.gcFinished >= 1;
    const going = () => Date.now() < hardStop && (Date.now() < until || !enough());

    let server = inst.run(['serve']);
    await inst.ready(server);
    const pushers = Array.from({ length: 4 }, (_, i) => new Pusher(() => agent, i, prng(seed * 31 + i), expected, shared));
    const pushing = pushers.map(async (p) => {
      while (going()) {
        await p.step();
        // While the server is down, wait for it rather than spin on refused connections.
        if (server.exitCode !== null || server.signalCode !== null) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const collecting = (async () => {
      while (going()) {
        const gc = inst.run(['gc', '--grace', '0s', ...(random() < 0.5 ? ['--delete-untagged'] : [])]);
        counts.gcRuns++;
        // Most runs are killed part way; until one has finished, every third is left alone.
        const spare = counts.gcFinished === 0 ? counts.gcRuns % 3 === 0 : random() >= 0.7;
        const killAfter = spare ? undefined : Math.floor(random() * 400);
        const timer = killAfter === undefined ? undefined : setTimeout(() => gc.kill('SIGKILL'), killAfter);
        const code = await exited(gc);
        clearTimeout(timer);
        if (gc.signalCode === 'SIGKILL') counts.gcKills++;
        else if (code === 0) counts.gcFinished++;
        else if (code === 75) counts.gcBusy++;
        else throw new Error(`stowage gc exited with ${code}: ${inst.stderr.join('\n')}`);
      }
    })();
    const crashing = (async () => {
      while (going()) {
        await new Promise((resolve) => setTimeout(resolve, 1500 + Math.floor(random() * 2500)));
        await kill(server);
        counts.serverKills++;
        server = inst.run(['serve']);
        await inst.ready(server);
      }
    })();
    await Promise.all([...pushing, collecting, crashing]);

    // A clean restart (which puts back what killed runs left aside), one whole collection, then
    // everything acknowledged must pull.
    await kill(server);
    server = inst.run(['serve']);
    await inst.ready(server);
    const last = inst.run(['gc', '--grace', '0s', '--delete-untagged']);
    expect(await exited(last)).toBe(0);
    const problems = await verify(agent, expected);
    // Nothing listed may lack what it names (a push or collection killed part way lists nothing).
    const listed = await verifyListed(agent);
    await kill(server);

    const summary = {
      seed,
      acknowledged: expected.acknowledged,
      tagsChecked: expected.tags.size,
      ...counts,
      failedPushes: Object.fromEntries(expected.failed),
    };
    expect(problems, JSON.stringify(summary)).toEqual([]);
    expect(listed.problems, JSON.stringify(summary)).toEqual([]);
    expect(expected.acknowledged, JSON.stringify(summary)).toBeGreaterThan(20);
    expect(enough(), JSON.stringify(summary)).toBe(true);
    console.log(`gc crash loop: ${JSON.stringify(summary)}`);
  });
});
