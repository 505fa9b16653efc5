// n/last pagination for tags and _catalog (distribution-spec end-8b, "Listing Tags"): entries
// after `last` in lexical order, at most n of them, and a Link header when more remain.
import { RegistryError } from '../errors/registry-error.js';
import { pageOfSorted } from '../storage/manifests.js';

export const MAX_PAGE_SIZE = 10_000;

export interface PageQuery {
  n?: number;
  last?: string;
}

export function parsePageQuery(query: Record<string, string | string[] | undefined>): PageQuery {
  const rawN = query.n;
  const rawLast = query.last;
  const page: PageQuery = {};
  if (rawN !== undefined) {
    const text = Array.isArray(rawN) ? rawN[0] : rawN;
    if (!/^\d+$/.test(text))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { detail: { n: text.slice(0, 50) } });
    page.n = Math.min(Number(text), MAX_PAGE_SIZE);
  }
  if (rawLast !== undefined) page.last = Array.isArray(rawLast) ? rawLast[0] : rawLast;
  return page;
}

/** The page of sorted entries, and the Link header value when more entries follow. */
export function paginate(sorted: string[], page: PageQuery, path: string): { entries: string[]; link?: string } {
  const { items, more } = pageOfSorted(sorted, page);
  const link = nextLink(items, page, more, path);
  return link ? { entries: items, link } : { entries: items };
}

/** The Link header for the page after entries (when more follow), as paginate() writes it. */
export function nextLink(entries: string[], page: PageQuery, more: boolean, path: string): string | undefined {
  if (!more || page.n === undefined || page.n === 0 || entries.length === 0) return undefined;
  return `<${path}?n=${page.n}&last=${encodeURIComponent(entries[entries.length - 1])}>; rel="next"`;
}

/** A source of sorted names one page at a time (the metadata database's listings). */
export type PagedSource = (page: PageQuery) => Promise<{ items: string[]; more: boolean }>;

/**
 * One page of the names the caller may see, read from a paged source: pages are read until n
 * visible names are found, so a caller who sees few of many names still gets full pages.
 */
export async function visiblePage(
  source: PagedSource,
  page: PageQuery,
  visible?: (name: string) => boolean,
): Promise<{ entries: string[]; more: boolean }> {
  return visibleItems(source, page, (name) => name, visible);
}

/**
 * visiblePage for entries that carry their name (the JSON API's repositories). A source in another
 * order than by name says where the page after an entry starts (after: the entry's keyset).
 */
export async function visibleItems<T, P extends PageQuery = PageQuery>(
  source: (page: P) => Promise<{ items: T[]; more: boolean }>,
  page: P,
  nameOf: (item: T) => string,
  visible?: (name: string) => boolean,
  after: (item: T) => P = (item) => ({ last: nameOf(item) }) as P,
): Promise<{ entries: T[]; more: boolean }> {
  if (!visible) {
    const { items, more } = await source(page);
    return { entries: items, more };
  }
  const entries: T[] = [];
  let position: P = page;
  const want = page.n;
  for (;;) {
    const batch = want === undefined ? undefined : Math.min(MAX_PAGE_SIZE, Math.max(100, (want - entries.length) * 2));
    const { items, more } = await source({ ...position, n: batch });
    for (const item of items) {
      if (!visible(nameOf(item))) continue;
      if (want !== undefined && entries.length === want) return { entries, more: true };
      entries.push(item);
    }
    if (!more || items.length === 0) return { entries, more: false };
    position = after(items[items.length - 1]);
  }
}
