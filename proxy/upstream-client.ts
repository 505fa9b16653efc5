// An HTTP client for one upstream registry: manifests and blobs by name, with the registry auth
// dance (distribution's token spec: 401 + `WWW-Authenticate: Bearer realm,service,scope` -> token
// from the realm, with Basic credentials or anonymously -> retry; or plain Basic), tokens cached
// per scope until they expire, keep-alive agents, per-request idle timeouts, redirects for blobs
// (storage backends hand out signed URLs; Authorization is never sent to another host), and the
// upstream's health policy. What to cache and when to ask is decided by the callers.
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES, MEDIA_TYPES, type Descriptor } from '../storage/manifest-format.js';
import { parseDigest } from '../storage/grammar.js';
import { UpstreamPolicy } from './upstream-policy.js';

/** Every manifest type we store, so upstream never down-converts (schema1) or picks for us. */
export const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES].join(', ');

const USER_AGENT = 'stowage-proxy';
const MAX_REDIRECTS = 5;
/** Tags asked for per page of an upstream tags list, and the bounds on following its pages. */
const TAGS_PAGE = 1000;
const MAX_TAG_PAGES = 100;
const MAX_UPSTREAM_TAGS = 100_000;
/** Tokens are dropped this long before their stated expiry, so a request never races it. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;

export interface UpstreamClientOptions {
  remoteurl: string;
  username?: string;
  password?: string;
  /** Idle time allowed for an answer or between body bytes, per request. */
  timeoutMs?: number;
  policy?: UpstreamPolicy;
  logger: Logger;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body stream; drained or destroyed by the caller. */
  body: IncomingMessage;
}

export interface UpstreamManifest {
  status: number;
  digest?: string;
  contentType?: string;
  size?: number;
  /** Present for a 200 answer to GET. */
  bytes?: Buffer;
}

/** Upstream could not be asked (offline by policy, network error, timeout) or answered 5xx/429. */
export class UpstreamUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamUnavailableError';
  }
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) params[p[1].toLowerCase()] = p[2] ?? p[3];
  return { scheme: m[1].toLowerCase(), params };
}

export class UpstreamClient {
  readonly base: URL;
  /** host[:port] of the upstream, as containerd names it in ?ns=. */
  readonly host: string;
  readonly policy: UpstreamPolicy;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly tokens = new Map<string, CachedToken>();
  /** Token requests in flight per scope: concurrent cold pulls share one. */
  private readonly pendingTokens = new Map<string, Promise<string | undefined>>();
  private readonly timeoutMs: number;
  private readonly basic?: string;
  private readonly logger: Logger;
  /** The upstream asked for Basic once: send it up front from then on. */
  private basicPreferred = false;

  constructor(options: UpstreamClientOptions) {
    this.base = new URL(options.remoteurl);
    this.host = this.base.host;
    this.policy = options.policy ?? new UpstreamPolicy();
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.logger = options.logger;
    if (options.username !== undefined) {
      this.basic = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    }
  }

  /** GET or HEAD of a manifest by tag or digest; a 200 GET carries the bytes exactly as sent. */
  async manifest(method: 'GET' | 'HEAD', name: string, reference: string, signal?: AbortSignal): Promise<UpstreamManifest> {
    const res = await this.send(method, name, `/manifests/${reference}`, { accept: MANIFEST_ACCEPT, signal });
    const answer: UpstreamManifest = {
      status: res.status,
      digest: headerValue(res.headers['docker-content-digest']),
      contentType: headerValue(res.headers['content-type']),
      size: contentLength(res.headers),
    };
    if (res.status !== 200 || method === 'HEAD') {
      res.body.resume();
      return answer;
    }
    answer.bytes = await readLimited(res.body, MAX_MANIFEST_BYTES);
    return answer;
  }

  /**
   * Every tag upstream lists for the repository, following its `Link: rel="next"` pages; a status
   * other than 200 is returned as is. Bounded: more than MAX_UPSTREAM_TAGS tags is an error, and
   * after MAX_TAG_PAGES pages the tags so far are returned (with a warning in the log).
   */
  async tags(name: string, signal?: AbortSignal): Promise<{ status: number; tags?: string[] }> {
    const tags: string[] = [];
    let query = `?n=${TAGS_PAGE}`;
    for (let page = 0; ; page++) {
      const res = await this.send('GET', name, `/tags/list${query}`, { accept: 'application/json', signal });
      if (res.status !== 200) {
        res.body.resume();
        if (page === 0) return { status: res.status };
        throw new UpstreamUnavailableError(`upstream ${this.host} answered ${res.status} for page ${page + 1} of ${name}'s tags`);
      }
      tags.push(...(await this.readTagsPage(res)));
      if (tags.length > MAX_UPSTREAM_TAGS)
        throw new UpstreamUnavailableError(`upstream ${this.host} lists more than ${MAX_UPSTREAM_TAGS} tags for ${name}`);
      const next = nextPageQuery(headerValue(res.headers.link));
      if (!next) return { status: 200, tags };
      if (page + 1 >= MAX_TAG_PAGES) {
        this.logger.warn({ upstream: this.host, name, pages: MAX_TAG_PAGES, tags: tags.length }, 'upstream tags list cut at the page limit');
        return { status: 200, tags };
      }
      query = next;
    }
  }

  /** One page's tags; an answer that is not a tags list counts as an upstream failure. */
  private async readTagsPage(res: UpstreamResponse): Promise<string[]> {
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse((await readLimited(res.body, MAX_MANIFEST_BYTES)).toString('utf8')) as { tags?: unknown };
    } catch (err) {
      throw new UpstreamUnavailableError(`upstream ${this.host} sent an unreadable tags list: ${(err as Error).message}`, { cause: err });
    }
    // Distribution answers `"tags": null` for a repository whose tags were all deleted.
    if (doc?.tags === null || doc?.tags === undefined) return [];
    if (!Array.isArray(doc.tags) || !doc.tags.every((t) => typeof t === 'string')) {
      throw new UpstreamUnavailableError(`upstream ${this.host} sent a tags list that is not a list of strings`);
    }
    return doc.tags as string[];
  }

  /**
   * The descriptors upstream holds whose subject is the digest: its referrers API (end-12a), or,
   * when upstream has none (404), the index the referrers tag schema keeps under the tag
   * `<alg>-<hex>` (as clients fall back, spec "Unavailable Referrers API"). One page of the API is
   * read; a status other than 200 or 404 is returned as is.
   */
  async referrers(name: string, digest: string, signal?: AbortSignal): Promise<{ status: number; manifests?: Descriptor[] }> {
    const res = await this.send('GET', name, `/referrers/${digest}`, { accept: MEDIA_TYPES.ociIndex, signal });
    if (res.status === 200) return { status: 200, manifests: this.readIndex(await readLimited(res.body, MAX_MANIFEST_BYTES)) };
    res.body.resume();
    if (res.status !== 404) return { status: res.status };
    const tagged = await this.manifest('GET', name, digest.replace(':', '-'), signal);
    if (tagged.status === 404) return { status: 200, manifests: [] };
    if (tagged.status !== 200 || !tagged.bytes) return { status: tagged.status };
    return { status: 200, manifests: this.readIndex(tagged.bytes) };
  }

  /** An index's well-formed descriptors; an answer that is not an index is an upstream failure. */
  private readIndex(bytes: Buffer): Descriptor[] {
    let doc: { manifests?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
    } catch (err) {
      throw new UpstreamUnavailableError(`upstream ${this.host} sent an unreadable referrers index: ${(err as Error).message}`, { cause: err });
    }
    if (!Array.isArray(doc?.manifests)) throw new UpstreamUnavailableError(`upstream ${this.host} sent a referrers answer that is not an index`);
    return doc.manifests.filter(isDescriptor).map((d) => ({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      ...(typeof d.artifactType === 'string' ? { artifactType: d.artifactType } : {}),
      ...(isStringRecord(d.annotations) ? { annotations: d.annotations } : {}),
    }));
  }

  /** GET (a stream to consume) or HEAD of a blob, following redirects to storage hosts. */
  async blob(method: 'GET' | 'HEAD', name: string, digest: string, signal?: AbortSignal): Promise<UpstreamResponse> {
    return this.send(method, name, `/blobs/${digest}`, { signal, followRedirects: true });
  }

  /** Closes idle keep-alive sockets (tests, shutdown). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private async send(
    method: string,
    name: string,
    suffix: string,
    options: { accept?: string; signal?: AbortSignal; followRedirects?: boolean },
  ): Promise<UpstreamResponse> {
    if (this.policy.isOffline()) throw new UpstreamUnavailableError(`upstream ${this.host} is marked offline after repeated failures`);
    const scope = `repository:${name}:pull`;
    const url = new URL(`${this.base.pathname.replace(/\/+$/, '')}/v2/${name}${suffix}`, this.base);
    try {
      const sent = this.authorization(scope);
      let res = await this.request(method, url, sent, options);
      if (res.status === 401) {
        const challenge = parseChallenge(headerValue(res.headers['www-authenticate']));
        res.body.resume();
        // A request that went out before a concurrent one fetched the token only needs that token.
        const fresh = this.authorization(scope);
        const retryAuth = fresh?.startsWith('Bearer ') && fresh !== sent ? fresh : await this.answerChallenge(challenge, scope, options.signal);
        if (retryAuth) res = await this.request(method, url, retryAuth, options);
      }
      if (res.status >= 500 || res.status === 429) {
        res.body.resume();
        this.recordFailure(`${method} ${url.pathname} answered ${res.status}`);
        throw new UpstreamUnavailableError(`upstream ${this.host} answered ${res.status}`);
      }
      this.policy.recordSuccess();
      return res;
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) throw err;
      // A client hanging up is not the upstream's fault.
      if (!options.signal?.aborted) this.recordFailure(`${method} ${url.pathname}: ${(err as Error).message}`);
      throw new UpstreamUnavailableError(`upstream ${this.host}: ${(err as Error).message}`, { cause: err });
    }
  }

  private recordFailure(what: string): void {
    if (this.policy.recordFailure()) this.logger.warn({ upstream: this.host, what }, 'upstream marked offline after repeated failures');
  }

  private authorization(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token && token.expiresAt > Date.now()) return `Bearer ${token.token}`;
    if (token) this.tokens.delete(scope);
    return this.basicPreferred ? this.basic : undefined;
  }

  /** The Authorization to retry with, or undefined when the challenge cannot be met. */
  private async answerChallenge(challenge: Challenge | undefined, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    if (challenge?.scheme === 'basic') {
      if (!this.basic) return undefined;
      this.basicPreferred = true;
      return this.basic;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const pending = this.pendingTokens.get(scope);
    if (pending) return pending;
    const fetching = this.fetchToken(challenge, scope, signal).finally(() => this.pendingTokens.delete(scope));
    this.pendingTokens.set(scope, fetching);
    return fetching;
  }

  private async fetchToken(challenge: Challenge, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('scope', challenge.params.scope ?? scope);
    const headers: Record<string, string> = {};
    if (this.basic) headers.authorization = this.basic;
    const res = await this.request('GET', realm, headers.authorization, { signal });
    if (res.status !== 200) {
      res.body.resume();
      this.logger.warn({ upstream: this.host, realm: realm.origin + realm.pathname, status: res.status }, 'upstream token request refused');
      return undefined;
    }
    const doc = JSON.parse((await readLimited(res.body, 1024 * 1024)).toString('utf8')) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = doc.token ?? doc.access_token;
    if (!token) return undefined;
    // The token spec's default lifetime is 60 seconds.
    const lifetimeMs = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
    this.tokens.set(scope, { token, expiresAt: Date.now() + Math.max(0, lifetimeMs - TOKEN_EXPIRY_MARGIN_MS) });
    this.logger.debug({ upstream: this.host, scope }, 'upstream token fetched');
    return `Bearer ${token}`;
  }

  /** One HTTP exchange, plus redirects when asked; Authorization stays with the upstream's origin. */
  private async request(
    method: string,
    url: URL,
    authorization: string | undefined,
    options: { accept?: string; signal?: AbortSignal; followRedirects?: boolean },
  ): Promise<UpstreamResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT };
      if (options.accept) headers.accept = options.accept;
      if (authorization && current.origin === url.origin) headers.authorization = authorization;
      const res = await this.exchange(method, current, headers, options.signal);
      const location = headerValue(res.headers.location);
      if (!options.followRedirects || !location || ![301, 302, 303, 307, 308].includes(res.statusCode ?? 0)) {
        return { status: res.statusCode ?? 0, headers: res.headers, body: res };
      }
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects from ${url.pathname}`);
      current = new URL(location, current);
    }
  }

  private exchange(method: string, url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    const isHttps = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, {
        method,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal,
        timeout: this.timeoutMs,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.on('response', resolve);
      req.end();
    });
  }
}

/** The query of a `Link: <...>; rel="next"` header's target (a path, or a URL on the upstream). */
function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** A descriptor we can pass on: a media type, a digest we can check, a size. */
function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    parseDigest(d.digest) !== undefined &&
    Number.isSafeInteger(d.size) &&
    (d.size as number) >= 0
  );
}

export function nextPageQuery(link: string | undefined): string | undefined {
  const m = link && /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m) return undefined;
  let target: URL;
  try {
    target = new URL(m[1], 'http://upstream.invalid');
  } catch {
    return undefined; // a Link we cannot read ends the list where it is
  }
  return target.search && target.search !== '?' ? target.search : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function contentLength(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

async function readLimited(body: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      body.destroy();
      throw new Error(`upstream answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
