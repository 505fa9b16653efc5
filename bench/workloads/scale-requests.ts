// The requests the scale workload times on every registry (issue 14): _catalog's first page and a
// page near the end (`last=`), the first and a late page of the big repository's tags, and a
// manifest GET by tag. Each has a full check of one answer (exact names, in order); the load then
// checks every answer's status and length against it. Distribution 2.8.2 has no paging of tags
// lists (it came in 3.0): it answers every tags request with all the tags, which is accepted and
// noted, since that is what a client of it gets.
import { expectManifest, getJson, MANIFEST_ACCEPT, WrongAnswer, type Target } from '../client.js';
import type { Image } from '../content.js';
import { BIG_REPOSITORY, repositoryName, tagName, type ScaleShape } from './scale-registry.js';

export interface ScaleRequest {
  id: string;
  label: string;
  /** A listing (the issue's 2x and 20x targets apply), or the manifest GET. */
  listing: boolean;
  path(shape: ScaleShape): string;
  headers?: Record<string, string>;
  /** GETs and checks one answer in full; returns its length, and a note when the registry answered in its own acceptable way. */
  check(target: Target, shape: ScaleShape): Promise<{ length: number; note?: string }>;
}

function same(actual: unknown, expected: string[]): boolean {
  return Array.isArray(actual) && actual.length === expected.length && actual.every((v, i) => v === expected[i]);
}

function range(from: number, to: number, name: (i: number) => string): string[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, k) => name(from + k));
}

/** A `last=` near the end: a full page (or what there is) remains after it. */
function deepLast(count: number, page: number): number {
  return Math.max(0, count - 2 * page - 1);
}

function describeList(list: unknown): string {
  if (!Array.isArray(list)) return 'no list';
  return `${list.length} entries${list.length ? ` ${String(list[0])} ... ${String(list[list.length - 1])}` : ''}`;
}

/** Every tag of the repository, in any order (what a registry without tags paging answers). */
function isWholeTagList(tags: unknown, count: number): boolean {
  if (!Array.isArray(tags) || tags.length !== count) return false;
  const sorted = [...(tags as string[])].sort();
  return sorted.every((t, i) => t === tagName(i));
}

function catalogRequest(id: string, label: string, page: number, from: (shape: ScaleShape) => number | undefined): ScaleRequest {
  const path = (shape: ScaleShape) => {
    const last = from(shape);
    return `/v2/_catalog?n=${page}${last === undefined ? '' : `&last=${encodeURIComponent(repositoryName(last))}`}`;
  };
  return {
    id,
    label,
    listing: true,
    path,
    async check(target, shape) {
      const { reply, value } = await getJson(target, path(shape));
      const start = (from(shape) ?? -1) + 1;
      const expected = range(start, Math.min(shape.repositories, start + page), repositoryName);
      const names = (value as { repositories?: unknown }).repositories;
      if (!same(names, expected)) throw new WrongAnswer(`GET ${path(shape)}: expected ${describeList(expected)}, got ${describeList(names)}`);
      return { length: reply.body.length };
    },
  };
}

function tagsRequest(id: string, label: string, page: number, from: (shape: ScaleShape) => number | undefined): ScaleRequest {
  const path = (shape: ScaleShape) => {
    const last = from(shape);
    return `/v2/${BIG_REPOSITORY}/tags/list?n=${page}${last === undefined ? '' : `&last=${tagName(last)}`}`;
  };
  return {
    id,
    label,
    listing: true,
    path,
    async check(target, shape) {
      const { reply, value } = await getJson(target, path(shape));
      const body = value as { name?: unknown; tags?: unknown };
      const start = (from(shape) ?? -1) + 1;
      const expected = range(start, Math.min(shape.bigTags, start + page), tagName);
      if (body.name === BIG_REPOSITORY && same(body.tags, expected)) return { length: reply.body.length };
      if (body.name === BIG_REPOSITORY && isWholeTagList(body.tags, shape.bigTags))
        return { length: reply.body.length, note: `no paging: all ${shape.bigTags.toLocaleString('en-US')} tags in every answer` };
      throw new WrongAnswer(
        `GET ${path(shape)}: expected ${describeList(expected)} of ${BIG_REPOSITORY}, got ${describeList(body.tags)} of ${String(body.name)}`,
      );
    },
  };
}

export function scaleRequests(page: number, image: Image): ScaleRequest[] {
  const manifestTag = (shape: ScaleShape) => tagName(Math.floor(shape.bigTags / 2));
  return [
    catalogRequest('catalog-first', `_catalog first page (n=${page})`, page, () => undefined),
    catalogRequest('catalog-deep', `_catalog page near the end (n=${page}&last=)`, page, (shape) => deepLast(shape.repositories, page)),
    tagsRequest('tags-first', `tags list of the big repository, first page (n=${page})`, page, () => undefined),
    tagsRequest('tags-deep', `tags list of the big repository, page near the end (n=${page}&last=)`, page, (shape) => deepLast(shape.bigTags, page)),
    {
      id: 'manifest-get',
      label: 'manifest GET by tag in the big repository',
      listing: false,
      path: (shape) => `/v2/${BIG_REPOSITORY}/manifests/${manifestTag(shape)}`,
      headers: { Accept: MANIFEST_ACCEPT },
      async check(target, shape) {
        await expectManifest(target, BIG_REPOSITORY, manifestTag(shape), image.manifest, image.manifestDigest);
        return { length: image.manifest.length };
      },
    },
  ];
}
