// n/last pagination for tags and _catalog (distribution-spec end-8b, "Listing Tags"): entries
// after `last` in lexical order, at most n of them, and a Link header when more remain.
import { RegistryError } from '../errors/registry-error.js';

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
  let start = 0;
  if (page.last !== undefined) {
    const last = page.last;
    // Binary search for the first entry after last.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= last) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  if (page.n === undefined) return { entries: sorted.slice(start) };
  const entries = sorted.slice(start, start + page.n);
  if (page.n > 0 && start + page.n < sorted.length) {
    const next = entries[entries.length - 1];
    return { entries, link: `<${path}?n=${page.n}&last=${encodeURIComponent(next)}>; rel="next"` };
  }
  return { entries };
}
