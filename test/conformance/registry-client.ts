// A small stand-in for the suite's HTTP client (github.com/bloodorangeio/reggie over Go's net/http):
// the same path templates (<name>, <reference>, <digest>), query parameters merged into the path's
// own, and what Go puts on the wire: the Content-Length of the real body (Go ignores a
// Content-Length header set by hand), "Content-Length: 0" on a POST/PUT/PATCH without a body,
// Accept-Encoding: gzip and the suite's User-Agent.
import http from 'node:http';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface PathOptions {
  /** reggie.WithName: replaces <name> instead of the default namespace. */
  name?: string;
  /** reggie.WithReference: replaces <reference>. */
  reference?: string;
  /** reggie.WithDigest: replaces <digest>. */
  digest?: string;
}

export interface ErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

const BODY_METHODS = new Set<Method>(['POST', 'PUT', 'PATCH']);

export class ConformanceRequest {
  readonly query = new URLSearchParams();
  readonly headers: Record<string, string> = {};
  body: Buffer | undefined;

  constructor(
    readonly method: Method,
    readonly path: string,
  ) {}

  setQueryParam(key: string, value: string): this {
    this.query.set(key, value);
    return this;
  }

  /** One more value of a repeatable parameter (?tag=a&tag=b). */
  addQueryParam(key: string, value: string): this {
    this.query.append(key, value);
    return this;
  }

  setHeader(key: string, value: string): this {
    this.headers[key] = value;
    return this;
  }

  setBody(body: Buffer | string): this {
    this.body = Buffer.from(body);
    return this;
  }
}

export class ConformanceResponse {
  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: Buffer,
    readonly url: URL,
  ) {}

  /** Go's Header().Get: the first value, or "". */
  header(name: string): string {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return '';
    return Array.isArray(value) ? value[0] : value;
  }

  /** reggie GetRelativeLocation: path and query of the Location header. */
  relativeLocation(): string {
    const location = this.header('Location');
    if (!location) return '';
    const u = new URL(location, 'http://relative.invalid');
    return u.pathname + u.search;
  }

  /** reggie GetAbsoluteLocation: the Location header resolved against the request URL. */
  absoluteLocation(): string {
    const location = this.header('Location');
    if (!location) return '';
    return new URL(location, this.url).toString();
  }

  /** reggie Errors(): the entries of the spec's error envelope. Throws if the body is not one. */
  errors(): ErrorEntry[] {
    const parsed = JSON.parse(this.body.toString('utf8')) as { errors?: ErrorEntry[] };
    if (!Array.isArray(parsed.errors)) throw new Error(`not an error envelope: ${this.body.toString('utf8').slice(0, 200)}`);
    return parsed.errors;
  }

  json<T>(): T {
    return JSON.parse(this.body.toString('utf8')) as T;
  }
}

export class ConformanceClient {
  constructor(
    readonly rootUrl: string,
    readonly defaultName: string,
  ) {}

  newRequest(method: Method, path: string, options: PathOptions = {}): ConformanceRequest {
    let resolved = path.replace('<name>', options.name ?? this.defaultName);
    if (options.reference !== undefined) resolved = resolved.replace('<reference>', options.reference);
    if (options.digest !== undefined) resolved = resolved.replace('<digest>', options.digest);
    return new ConformanceRequest(method, resolved);
  }

  /**
   * The suite's most repeated step: POST to open an upload, then PUT the whole blob with
   * ?digest= to the Location it answered (each Go spec writes it out; here it is one call).
   */
  async postThenPutBlob(digest: string, contentLength: string, content: Buffer): Promise<ConformanceResponse> {
    const opened = await this.do(this.newRequest('POST', '/v2/<name>/blobs/uploads/'));
    return this.do(
      this.newRequest('PUT', opened.relativeLocation())
        .setQueryParam('digest', digest)
        .setHeader('Content-Type', 'application/octet-stream')
        .setHeader('Content-Length', contentLength)
        .setBody(content),
    );
  }

  do(req: ConformanceRequest): Promise<ConformanceResponse> {
    const url = new URL(req.path, this.rootUrl);
    // The request's parameters replace the path's of the same name (every value of a repeated one).
    for (const key of new Set(req.query.keys())) {
      url.searchParams.delete(key);
      for (const value of req.query.getAll(key)) url.searchParams.append(key, value);
    }
    const headers: Record<string, string> = {
      'User-Agent': 'distribution-spec-conformance-tests',
      'Accept-Encoding': 'gzip',
    };
    for (const [key, value] of Object.entries(req.headers)) {
      if (key.toLowerCase() !== 'content-length') headers[key] = value;
    }
    if (req.body !== undefined) headers['Content-Length'] = String(req.body.length);
    else if (BODY_METHODS.has(req.method)) headers['Content-Length'] = '0';
    return new Promise((resolve, reject) => {
      const outgoing = http.request(url, { method: req.method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(new ConformanceResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks), url)));
        res.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(req.body);
    });
  }
}
