// `stowage ls`, `du` and `tags`: what a running registry's JSON API (/api/v1/) says it holds,
// as aligned tables for people or, with --json, one JSON document for scripts. Only what the
// caller may pull is shown, as the API filters it.
import { ApiError, type ApiClient } from './api-client.js';

type Print = (line: string) => void;

/** A repository as GET /api/v1/repositories lists it. */
export interface ApiRepository {
  name: string;
  size: number;
  tags: number;
  manifests: number;
  lastPushed: string | null;
}

/** A quota as GET /api/v1/quotas lists it. */
export interface ApiQuota {
  number: number;
  repositories: string[];
  usedBytes: number;
  maxBytes: number;
  percent: number;
  repositoryCount: number;
}

/** A tag as GET /api/v1/tags/{name} lists it. */
export interface ApiTag {
  tag: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  platforms: Array<{ os: string; architecture: string; variant?: string }>;
  created: string | null;
  pushed: string | null;
  pushedBy: string | null;
  lastPulled: string | null;
  pulls: number;
}

function repositoriesPath(prefix?: string): string {
  return prefix ? `/api/v1/repositories?prefix=${encodeURIComponent(prefix)}` : '/api/v1/repositories';
}

async function collect<T>(pages: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of pages) out.push(item);
  return out;
}

/** `stowage ls [PREFIX]`: repositories whose names start with PREFIX, with sizes and counts. */
export async function listCommand(client: ApiClient, prefix: string | undefined, json: boolean, print: Print): Promise<void> {
  const repositories = await collect(client.pages<ApiRepository>(repositoriesPath(prefix), 'repositories'));
  if (json) return print(JSON.stringify(repositories));
  printTable(
    print,
    ['REPOSITORY', 'TAGS', 'MANIFESTS', 'SIZE', 'LAST PUSH'],
    repositories.map((r) => [r.name, String(r.tags), String(r.manifests), formatBytes(r.size), formatTime(r.lastPushed)]),
    [false, true, true, true, false],
  );
}

/**
 * `stowage du [REPO]`: the size of every repository (or of REPO and the repositories under
 * REPO/), and their total. A blob two repositories share counts in each: the total is what
 * they would take stored apart.
 */
export async function diskUsageCommand(client: ApiClient, name: string | undefined, json: boolean, print: Print): Promise<void> {
  const all = await collect(client.pages<ApiRepository>(repositoriesPath(name), 'repositories'));
  const repositories = name ? all.filter((r) => r.name === name || r.name.startsWith(`${name}/`)) : all;
  const total = repositories.reduce((sum, r) => sum + r.size, 0);
  const quotas = await quotasOf(client);
  if (json) return print(JSON.stringify({ repositories: repositories.map((r) => ({ name: r.name, size: r.size })), total, quotas }));
  printTable(
    print,
    ['SIZE', 'REPOSITORY'],
    [...repositories.map((r) => [formatBytes(r.size), r.name]), [formatBytes(total), 'total']],
    [true, false],
  );
  if (quotas.length === 0) return;
  // Blobs shared within a quota count once there, so a quota's USED is not the sum of the sizes above.
  print('');
  printTable(
    print,
    ['QUOTA', 'USED', 'MAX', 'USE%', 'REPOSITORIES'],
    quotas.map((q) => [String(q.number), formatBytes(q.usedBytes), formatBytes(q.maxBytes), `${q.percent}%`, q.repositories.join(',')]),
    [true, true, true, true, false],
  );
}

/** The quotas the caller may see; none from a registry older than GET /api/v1/quotas. */
async function quotasOf(client: ApiClient): Promise<ApiQuota[]> {
  try {
    return (await client.get<{ quotas: ApiQuota[] }>('/api/v1/quotas')).quotas;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

/** `stowage tags REPO`: its tags with digest, size, platforms, times and pulls. */
export async function tagsCommand(client: ApiClient, name: string, json: boolean, print: Print): Promise<void> {
  const tags = await collect(client.pages<ApiTag>(`/api/v1/tags/${name}`, 'tags'));
  if (json) return print(JSON.stringify(tags));
  printTable(
    print,
    ['TAG', 'DIGEST', 'SIZE', 'PLATFORMS', 'CREATED', 'PUSHED', 'PULLS', 'LAST PULL'],
    tags.map((t) => [
      t.tag,
      shortDigest(t.digest),
      formatBytes(t.size),
      t.platforms.map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')).join(',') || '-',
      formatTime(t.created),
      formatTime(t.pushed),
      String(t.pulls),
      formatTime(t.lastPulled),
    ]),
    [false, false, true, false, false, false, true, false],
  );
}

/** Columns padded to their widest cell; numbers (right[i]) aligned right. */
export function printTable(print: Print, header: string[], rows: string[][], right: boolean[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 && !right[i] ? cell : right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ');
  print(line(header));
  for (const row of rows) print(line(row));
}

/** 1536 -> "1.5 KiB": powers of 1024, as docker and du -h count. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** An ISO time as "2024-05-01 12:34" (UTC), "-" when absent or unreadable. */
export function formatTime(iso: string | null): string {
  if (!iso) return '-';
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  return time.toISOString().slice(0, 16).replace('T', ' ');
}

function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, 12) : `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}
