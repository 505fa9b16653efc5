// Every request the UI makes goes through here. It marks the request as the UI's (X-Stowage-UI:
// the server then names its challenge X-Stowage-Authenticate, so the browser never pops up its
// own password dialog), sends the signed-in user's Basic credentials, and answers a Bearer
// challenge as docker does: a token from the realm for the challenge's scope (with Basic when
// signed in), cached per scope until it expires, then the request once more. Errors in the
// registry's JSON envelope become ApiError with the server's message.
import { parseChallenge, type Challenge } from './challenge.js';
import { basicAuthorization, getCredentials, type Credentials } from './credentials.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

export type AuthMode = 'none' | 'htpasswd' | 'token';

let authMode: AuthMode | undefined;
/** Set from /api/v1/session: in token mode requests start with a cached token, not Basic. */
export function setAuthMode(mode: AuthMode | undefined): void {
  authMode = mode;
}

interface CachedToken {
  token: string;
  expires: number;
}

const tokens = new Map<string, CachedToken>();
/** The scope last asked of each path (query left out), so the next request carries its token at once. */
const scopeOfPath = new Map<string, string>();

export function forgetTokens(): void {
  tokens.clear();
  scopeOfPath.clear();
}

function validToken(scope: string): string | undefined {
  const cached = tokens.get(scope);
  if (cached && cached.expires > Date.now()) return cached.token;
  tokens.delete(scope);
  return undefined;
}

export interface RequestOptions {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Credentials to use instead of the signed-in user's (the sign-in form's check). */
  credentials?: Credentials | null;
}

function credentialsOf(options: RequestOptions): Credentials | undefined {
  return options.credentials === undefined ? getCredentials() : (options.credentials ?? undefined);
}

function challengeOf(res: Response): Challenge | undefined {
  return parseChallenge(res.headers.get('X-Stowage-Authenticate') ?? res.headers.get('WWW-Authenticate'));
}

async function send(path: string, options: RequestOptions, authorization: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers, 'X-Stowage-UI': '1' };
  if (authorization) headers.Authorization = authorization;
  try {
    return await fetch(path, { method: options.method ?? 'GET', body: options.body, headers, signal: options.signal, credentials: 'omit' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'The registry did not answer. Is it running?');
  }
}

/** A token from the challenge's realm for its service and scopes (scopes are space-separated). */
export async function fetchToken(challenge: Challenge, credentials: Credentials | undefined, signal?: AbortSignal): Promise<CachedToken> {
  const { realm, service, scope } = challenge.params;
  const url = new URL(realm, window.location.href);
  if (service) url.searchParams.set('service', service);
  for (const s of (scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', s);
  let res: Response;
  try {
    res = await fetch(url.href, {
      headers: credentials ? { Authorization: basicAuthorization(credentials), 'X-Stowage-UI': '1' } : { 'X-Stowage-UI': '1' },
      signal,
      credentials: 'omit',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    // An issuer on another origin: the page's Content-Security-Policy (connect-src 'self') stops it.
    throw new ApiError(0, `Could not reach the token server ${url.origin}${url.pathname}`);
  }
  if (!res.ok) throw await errorOf(res);
  const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
  const token = body.token ?? body.access_token;
  if (!token) throw new ApiError(res.status, 'The token server answered without a token');
  // Docker's default lifetime is 60 s; renew a little early.
  const seconds = Math.max(10, body.expires_in ?? 60);
  return { token, expires: Date.now() + (seconds - 5) * 1000 };
}

/** The response, after at most one Bearer challenge was answered. Does not throw on error statuses. */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const key = path.split('?')[0];
  const credentials = credentialsOf(options);
  const knownScope = scopeOfPath.get(key);
  const token = knownScope !== undefined && options.credentials === undefined ? validToken(knownScope) : undefined;
  const basic = credentials && authMode !== 'token' ? basicAuthorization(credentials) : undefined;
  const res = await send(path, options, token ? `Bearer ${token}` : basic);
  if (res.status !== 401) return res;
  const challenge = challengeOf(res);
  if (challenge?.scheme !== 'bearer' || !challenge.params.realm) return res;
  const scope = challenge.params.scope ?? '';
  let fresh = options.credentials === undefined ? validToken(scope) : undefined;
  // A cached token the server just refused is no good: ask for a new one.
  if (!fresh || fresh === token) {
    const issued = await fetchToken(challenge, credentials, options.signal);
    if (options.credentials === undefined) tokens.set(scope, issued);
    fresh = issued.token;
  }
  if (options.credentials === undefined) scopeOfPath.set(key, scope);
  return send(path, options, `Bearer ${fresh}`);
}

/** The registry's JSON error envelope as an ApiError (or the status line when it is not JSON). */
export async function errorOf(res: Response): Promise<ApiError> {
  let first: { code?: string; message?: string; detail?: unknown } | undefined;
  try {
    first = ((await res.json()) as { errors?: Array<typeof first> }).errors?.[0];
  } catch {
    first = undefined;
  }
  const message = first?.message || `${res.status} ${res.statusText}`.trim();
  return new ApiError(res.status, message, first?.code, first?.detail);
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await request(path, options);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 202 || res.status === 204 || res.headers.get('Content-Length') === '0') return undefined as T;
  return (await res.json()) as T;
}

/**
 * The endpoint may be missing on an older server (the router's own 404 names the path) or off
 * (no metadata database: UNSUPPORTED): then undefined, and the page leaves that part out.
 */
export function isMissingEndpoint(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  const detail = err.detail as { path?: unknown } | undefined;
  return (err.status === 404 && typeof detail?.path === 'string') || err.status === 405 || err.status === 501;
}

export async function apiOptional<T>(path: string, options: RequestOptions = {}): Promise<T | undefined> {
  try {
    return await api<T>(path, options);
  } catch (err) {
    if (isMissingEndpoint(err)) return undefined;
    throw err;
  }
}

export function jsonBody(value: unknown): Pick<RequestOptions, 'body' | 'headers'> {
  return { body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } };
}
