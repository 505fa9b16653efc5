// Command-line options and the two presets: the full benchmark of issues 3, 4 and 5 and `--quick`,
// a short run for development that keeps every workload's shape at smaller counts.
import { resolve } from 'node:path';
import { MiB, KiB } from './content.js';
import { STOWAGE_ENTRY } from './servers.js';
import type { WrkLoad } from './wrk.js';
import type { ScaleShape } from './workloads/scale-registry.js';

/** The scale workload (issue 14): the registry sizes, the page asked for, the loads. */
export interface ScaleOptions {
  large: ScaleShape;
  /** The size each listing's p99 is compared with (target: large within 2x of it). */
  small: ScaleShape;
  page: number;
  /** Keep-alive connections of the timed requests. */
  connections: number;
  /** Requests at once while filling a registry. */
  createConcurrency: number;
}

export interface Options {
  quick: boolean;
  rounds: number;
  startupRounds: number;
  blobBytes: number;
  chunkBytes: number;
  pullConcurrency: number;
  smallBlobs: number;
  smallBlobBytes: number;
  concurrency: number;
  manifestPuts: number;
  tags: number;
  repositories: number;
  catalogPage: number;
  wrk: WrkLoad;
  skopeoLayersMiB: number[];
  /** skopeo copies at once in the many-way cold pull through the pull-through proxies. */
  proxyClients: number;
  /** Seconds of the mixed push/pull soak, when asked for. */
  soakSeconds?: number;
  /** Concurrent clients of the load-held run, when asked for, and its length. */
  clients?: number;
  clientSeconds: number;
  only?: string[];
  out?: string;
  keep: boolean;
  note?: string;
  /** Also run the write workloads on stowage with storage.filesystem.fsync: false. */
  fsyncCost: boolean;
  /** The stowage build to run (default: this tree's dist/stowage.mjs, what `npm start` runs). */
  stowageCli: string;
  /** A git revision to export, build and run instead of the working tree. */
  stowageRev?: string;
  scale: ScaleOptions;
  /** Add the scale workload's "stowage on S3 + PostgreSQL" column. */
  scalePg: boolean;
  argv: string[];
}

const USAGE = `usage: npm run bench -- [options]
  --quick              short development run (2 rounds, smaller counts, 2 s wrk runs)
  --rounds N           rounds per workload (default 5, quick 2)
  --soak[=SECONDS]     add the mixed push/pull soak (default 300 s, quick 30 s) with RSS sampled
  --clients N          add the load-held run with N concurrent clients (the issue asks for 1000)
  --client-seconds S   how long the clients run (default 60, quick 15)
  --only ID,ID         run only these workloads (ids are printed at start) or groups: proxy (the
                       pull-through proxy workloads), s3 (the workloads with an S3 column and
                       s3rver alone); results are not written to bench/RESULTS.md
  --out FILE           where the results go (default bench/RESULTS.md for a full run,
                       bench/out/RESULTS-quick.md otherwise)
  --note TEXT          a line added to the results, e.g. about the machine's load
  --keep               keep the work directory (data, server logs) for inspection
  --fsync-cost         also run the write workloads on stowage with storage.filesystem.fsync: false
                       and add a section comparing the two (needs a build that has the setting)
  --stowage-cli FILE   run this build of stowage instead of dist/stowage.mjs
  --stowage-rev REV    export the git revision REV (e.g. HEAD), build it in the work directory
                       and run that: measures committed code while the tree is being edited
  --scale-size R,T,B   the scale workload's large registry: R repositories, T tags, B of them in
                       one repository (default 20000,500000,100000; quick 1000,20000,5000)
  --scale-concurrency N  requests at once while filling the scale registries (default 64)
  --scale-pg           add the scale workload's column for stowage on S3 (s3rver) + PostgreSQL
                       (skipped with a note when the build refuses stowage.database.url)`;

export function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const options: Options = {
    quick,
    rounds: quick ? 2 : 5,
    startupRounds: quick ? 3 : 7,
    blobBytes: 64 * MiB,
    chunkBytes: 8 * MiB,
    pullConcurrency: 16,
    smallBlobs: quick ? 300 : 2000,
    smallBlobBytes: 4 * KiB,
    concurrency: 16,
    manifestPuts: quick ? 200 : 1000,
    tags: quick ? 200 : 1000,
    repositories: quick ? 150 : 500,
    catalogPage: 100,
    wrk: { threads: 2, connections: 50, seconds: quick ? 2 : 5 },
    skopeoLayersMiB: [1, 4, 16, 32, 64],
    proxyClients: 16,
    clientSeconds: quick ? 15 : 60,
    keep: false,
    fsyncCost: false,
    stowageCli: STOWAGE_ENTRY,
    scale: {
      large: quick ? { repositories: 1000, tags: 20_000, bigTags: 5000 } : { repositories: 20_000, tags: 500_000, bigTags: 100_000 },
      small: { repositories: 100, tags: 1000, bigTags: 500 },
      page: 100,
      connections: 16,
      createConcurrency: 64,
    },
    scalePg: false,
    argv,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    const count = (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg}: expected a positive integer, got ${v}`);
      return n;
    };
    if (arg === '--quick') continue;
    else if (arg === '--rounds') options.rounds = count(value());
    else if (arg === '--soak') options.soakSeconds = quick ? 30 : 300;
    else if (arg.startsWith('--soak=')) options.soakSeconds = count(arg.slice('--soak='.length));
    else if (arg === '--clients') options.clients = count(value());
    else if (arg === '--client-seconds') options.clientSeconds = count(value());
    else if (arg === '--only') options.only = value().split(',').filter(Boolean);
    else if (arg === '--out') options.out = value();
    else if (arg === '--note') options.note = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--fsync-cost') options.fsyncCost = true;
    else if (arg === '--stowage-cli') options.stowageCli = resolve(value());
    else if (arg === '--stowage-rev') options.stowageRev = value();
    else if (arg === '--scale-pg') options.scalePg = true;
    else if (arg === '--scale-concurrency') options.scale.createConcurrency = count(value());
    else if (arg === '--scale-size') {
      const [repositories, tags, bigTags] = value().split(',').map(count);
      if (bigTags === undefined) throw new Error(`--scale-size: expected REPOSITORIES,TAGS,BIGTAGS`);
      options.scale.large = { repositories, tags, bigTags };
    } else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return options;
}

/** Names `--only` accepts for several workloads at once. */
export const GROUPS: Record<string, string[]> = {
  proxy: ['proxy-pull', 'proxy-pull-rtt20', 'proxy-pull-16'],
  s3: ['push-monolithic', 'pull-1', 'skopeo-copy', 's3rver-alone'],
};

/** Whether the run includes the workload `id` (every one unless --only names it or its group). */
export function isWanted(options: Options, id: string): boolean {
  if (!options.only) return true;
  return options.only.some((name) => name === id || GROUPS[name]?.includes(id));
}
