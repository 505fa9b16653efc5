// Listings under wrk: the tags list of a repository with 1,000 tags, and the first page of
// _catalog?n=100 over 500 repositories. Setup builds both and checks one answer in full (JSON,
// names, order, Link); wrk then checks every answer's status and length against it.
import type { BenchContext } from '../context.js';
import { getJson, mountBlob, pushImage, putManifest, WrongAnswer, type Target } from '../client.js';
import { forEachConcurrent } from '../pool.js';
import type { Workload } from '../runner.js';
import { runWrk } from '../wrk.js';

const TAGS_REPOSITORY = 'bench/tags';
const CATALOG_SOURCE = 'bench/catalogsrc';

function tagName(i: number): string {
  return `t${String(i).padStart(5, '0')}`;
}

function repositoryName(i: number): string {
  return `bench/catalog/r${String(i).padStart(4, '0')}`;
}

function isSorted(names: string[]): boolean {
  return names.every((n, i) => i === 0 || names[i - 1] < n);
}

export function listingWorkloads({ options, workDir, manifest }: BenchContext): Workload<Target>[] {
  const { image } = manifest;
  const { tags: tagCount, repositories: repositoryCount, catalogPage: page, concurrency } = options;
  const expectedLength = new Map<string, number>();
  const catalogLength = new Map<string, number>();
  const wrkMetrics = [
    { key: 'rps', label: 'requests', unit: 'req/s', better: 'higher' as const },
    { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower' as const },
  ];
  const catalogPath = `/v2/_catalog?n=${page}`;

  return [
    {
      id: 'tags-list',
      title: `Tags list, ${tagCount} tags, wrk -c${options.wrk.connections}`,
      metrics: wrkMetrics,
      async setup(target) {
        await pushImage(target, TAGS_REPOSITORY, tagName(0), image);
        await forEachConcurrent(tagCount - 1, concurrency, (i) =>
          putManifest(target, TAGS_REPOSITORY, tagName(i + 1), image.manifest, image.manifestDigest),
        );
        const path = `/v2/${TAGS_REPOSITORY}/tags/list`;
        const { reply, value } = await getJson(target, path);
        const body = value as { name?: string; tags?: string[] };
        const tags = body.tags ?? [];
        const expected = Array.from({ length: tagCount }, (_, i) => tagName(i));
        if (body.name !== TAGS_REPOSITORY || tags.length !== tagCount || [...tags].sort().join() !== expected.join()) {
          throw new WrongAnswer(`GET ${path}: expected ${tagCount} tags t00000..., got ${tags.length} for ${body.name}`);
        }
        expectedLength.set(target.name, reply.body.length);
      },
      async run(target) {
        const url = new URL(`/v2/${TAGS_REPOSITORY}/tags/list`, target.base).href;
        const r = await runWrk(url, { status: 200, length: expectedLength.get(target.name)! }, options.wrk, workDir);
        return { rps: r.rps, p99: r.p99Ms };
      },
    },
    {
      id: 'catalog',
      title: `Catalog first page (n=${page}) of ${repositoryCount} repositories, wrk -c${options.wrk.connections}`,
      metrics: wrkMetrics,
      async setup(target) {
        await pushImage(target, CATALOG_SOURCE, 'v1', image);
        const blobs = [
          ...image.layers.map((bytes, i) => ({ bytes, digest: image.layerDigests[i] })),
          { bytes: image.config, digest: image.configDigest },
        ];
        await forEachConcurrent(repositoryCount, concurrency, async (i) => {
          for (const blob of blobs) await mountBlob(target, repositoryName(i), CATALOG_SOURCE, blob.digest, blob.bytes);
          await putManifest(target, repositoryName(i), 'v1', image.manifest, image.manifestDigest);
        });
        const { reply, value } = await getJson(target, catalogPath);
        const names = (value as { repositories?: string[] }).repositories ?? [];
        const link = reply.headers.link;
        if (names.length !== page || !isSorted(names) || !link || !String(link).includes('rel="next"')) {
          throw new WrongAnswer(
            `GET ${catalogPath}: expected ${page} sorted names and a next Link, got ${names.length} names, sorted ${isSorted(names)}, Link ${link ?? '(none)'}`,
          );
        }
        catalogLength.set(target.name, reply.body.length);
      },
      async run(target) {
        const url = new URL(catalogPath, target.base).href;
        const r = await runWrk(url, { status: 200, length: catalogLength.get(target.name)! }, options.wrk, workDir);
        return { rps: r.rps, p99: r.p99Ms };
      },
    },
  ];
}
