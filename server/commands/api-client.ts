// The JSON API (/api/v1/, server/routes/api.ts) as the CLI reads it from a running registry:
// Basic credentials when given, and Docker's token flow when the registry answers with a Bearer
// challenge (a token from the realm it names, asked with the same credentials, then the request
// again). Errors come back as the registry's own code and message.

export interface ApiClientOptions {
  /** The registry's base URL, e.g. http://127.0.0.1:5000. */
  url: string;
  username?: string;
  password?: string;
}

/** A refusal or failure the registry answered (its JSON error), or a registry that cannot be reached. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  private readonly base: URL;
  private bearer?: string;

  constructor(private readonly options: ApiClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new ApiError(`not a URL: ${options.url}`, 'USAGE');
    }
  }

  /** GET of a path (with its query) under the registry's URL, as JSON. */
  async get<T>(path: string): Promise<T> {
    const url = new URL(path, this.base);
    let res = await this.fetch(url, this.authorization());
    const challenge = res.headers.get('www-authenticate');
    if (res.status === 401 && challenge && /^bearer\s/i.test(challenge)) {
      await res.body?.cancel();
      this.bearer = await this.token(challenge);
      res = await this.fetch(url, `Bearer ${this.bearer}`);
    }
    const body = await res.text();
    if (!res.ok) throw errorOf(res.status, body);
    return JSON.parse(body) as T;
  }

  /** Every entry of a paged list, following each page's `next` until the last page. */
  async *pages<T>(path: string, key: string): AsyncGenerator<T> {
    let next: string | null | undefined = path;
    while (next) {
      const page: Record<string, unknown> = await this.get<Record<string, unknown>>(next);
      yield* (page[key] ?? []) as T[];
      next = page.next as string | null | undefined;
    }
  }

  private authorization(): string | undefined {
    if (this.bearer) return `Bearer ${this.bearer}`;
    const { username, password } = this.options;
    if (username === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  private async fetch(url: URL, authorization: string | undefined): Promise<Response> {
    try {
      return await fetch(url, {
        headers: authorization ? { Authorization: authorization, Accept: 'application/json' } : { Accept: 'application/json' },
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(`cannot reach ${this.base.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 'UNREACHABLE');
    }
  }

  /** A token from the realm of a Bearer challenge, for the scope it names. */
  private async token(challenge: string): Promise<string> {
    const params = challengeParams(challenge);
    if (!params.realm) throw new ApiError('the registry asks for a token but names no realm', 'UNAUTHORIZED', 401);
    const url = new URL(params.realm, this.base);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) for (const scope of params.scope.split(' ')) url.searchParams.append('scope', scope);
    const { username, password } = this.options;
    const basic = username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    const res = await this.fetch(url, basic);
    const body = await res.text();
    if (!res.ok) throw errorOf(res.status, body);
    const answer = JSON.parse(body) as { token?: string; access_token?: string };
    const token = answer.token ?? answer.access_token;
    if (!token) throw new ApiError('the token endpoint answered without a token', 'UNAUTHORIZED', 401);
    return token;
  }
}

/** The parameters of a WWW-Authenticate challenge: realm="...",service="...",scope="...". */
export function challengeParams(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of challenge.replace(/^\S+\s+/, '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return out;
}

function errorOf(status: number, body: string): ApiError {
  try {
    const first = (JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
    if (first?.code) return new ApiError(first.message ?? first.code, first.code, status);
  } catch {
    // Not the registry's JSON: say what came back.
  }
  return new ApiError(`HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`, 'HTTP', status);
}
