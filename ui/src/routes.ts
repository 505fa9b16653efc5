// The UI's URL scheme, both ways: parseRoute() reads a location into the page to show, and the
// *Url() functions write the links. Pure: test/ui/routes.test.ts.
//   /ui/                          home (?q= search, ?ns= namespace, ?sort=, ?order=)
//   /ui/r/<name>                  a repository (?q= tag filter); the name may hold "/"
//   /ui/r/<name>/t/<tag>          the image a tag points at
//   /ui/r/<name>/d/<digest>       an image by digest (?platform=<digest> picks an index's child)
//   /ui/proxies, /ui/usage, /ui/retention, /ui/sign-in
// A repository whose name has a segment "t" or "d" followed by one more segment reads as an
// image link; the name grammar allows it, nobody names repositories so.

export const BASE = '/ui';

export type Route =
  | { page: 'home' }
  | { page: 'repository'; name: string }
  | { page: 'image'; name: string; reference: string; by: 'tag' | 'digest' }
  | { page: 'proxies' }
  | { page: 'usage' }
  | { page: 'retention' }
  | { page: 'sign-in' }
  | { page: 'not-found'; path: string };

const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '');
  if (path === BASE || path === '') return { page: 'home' };
  if (!path.startsWith(`${BASE}/`)) return { page: 'not-found', path: pathname };
  const rest = path.slice(BASE.length + 1);
  if (rest === 'proxies' || rest === 'usage' || rest === 'retention' || rest === 'sign-in') return { page: rest };
  if (rest.startsWith('r/')) {
    const segments = rest.slice(2).split('/').map(decode);
    const n = segments.length;
    if (n >= 3 && (segments[n - 2] === 't' || segments[n - 2] === 'd')) {
      const name = segments.slice(0, n - 2).join('/');
      const reference = segments[n - 1];
      const by = segments[n - 2] === 't' ? 'tag' : 'digest';
      if (NAME.test(name) && (by === 'tag' ? TAG.test(reference) : DIGEST.test(reference))) return { page: 'image', name, reference, by };
    }
    const name = segments.join('/');
    if (NAME.test(name)) return { page: 'repository', name };
  }
  return { page: 'not-found', path: pathname };
}

function withQuery(path: string, query: Record<string, string | undefined | null> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export function homeUrl(query: { q?: string; ns?: string; sort?: string; order?: string } = {}): string {
  return withQuery(`${BASE}/`, query);
}

export function repositoryUrl(name: string, query: { q?: string } = {}): string {
  return withQuery(`${BASE}/r/${name}`, query);
}

export function tagUrl(name: string, tag: string): string {
  return `${BASE}/r/${name}/t/${encodeURIComponent(tag)}`;
}

export function digestUrl(name: string, digest: string, platform?: string): string {
  return withQuery(`${BASE}/r/${name}/d/${digest}`, { platform });
}

export function imageUrl(name: string, reference: string, platform?: string): string {
  return reference.includes(':') ? digestUrl(name, reference, platform) : withQuery(tagUrl(name, reference), { platform });
}

export const pageUrl = {
  proxies: `${BASE}/proxies`,
  usage: `${BASE}/usage`,
  retention: `${BASE}/retention`,
  signIn: `${BASE}/sign-in`,
};

/** The sign-in page, coming back to `next` (a /ui/ address) afterwards. */
export function signInUrl(next?: string): string {
  return withQuery(pageUrl.signIn, { next: next && safeNext(next) !== homeUrl() ? next : undefined });
}

/** Where to go after signing in: only a /ui/ address of this origin, else home. */
export function safeNext(next: string | null | undefined): string {
  return next && next.startsWith(`${BASE}/`) && !next.startsWith('//') && !next.includes('\\') ? next : homeUrl();
}
