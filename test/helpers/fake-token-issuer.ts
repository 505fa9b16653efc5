// A token server in the shape of Distribution's token auth, for upstreams that demand Bearer
// tokens (the harness's requireToken): HMAC-signed JWT-like tokens, one per scope asked for,
// Basic credentials checked when it has users. Not stowage's own issuer (auth/token-issuer.ts).
import { createHmac, randomBytes } from 'node:crypto';
import { listen, type Listening } from './http-server.js';

export class TokenIssuer {
  readonly secret = randomBytes(16);
  readonly issued: Array<{ scope: string; account?: string }> = [];
  private listening?: Listening;

  constructor(
    private readonly users: Record<string, string> = {},
    private readonly lifetimeSeconds = 300,
  ) {}

  get realm(): string {
    if (!this.listening) throw new Error('issuer not started');
    return `${this.listening.url}/token`;
  }

  async start(): Promise<void> {
    this.listening = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://issuer');
      const scope = url.searchParams.get('scope') ?? '';
      let account: string | undefined;
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const [user, password] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (this.users[user] !== password) {
          res.writeHead(401).end();
          return;
        }
        account = user;
      } else if (Object.keys(this.users).length > 0) {
        res.writeHead(401).end();
        return;
      }
      this.issued.push({ scope, account });
      const token = this.sign({ scope, account, exp: Math.floor(Date.now() / 1000) + this.lifetimeSeconds });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: this.lifetimeSeconds }));
    });
  }

  async close(): Promise<void> {
    await this.listening?.close();
  }

  challenge(pathname: string): string {
    const name = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1];
    const scope = name ? `,scope="repository:${name}:pull"` : '';
    return `Bearer realm="${this.realm}",service="test-registry"${scope}`;
  }

  /** Whether the Authorization carries a valid token for the repository the path names. */
  admits(authorization: string | undefined, pathname: string): boolean {
    if (!authorization?.startsWith('Bearer ')) return false;
    const claims = this.verify(authorization.slice(7));
    if (!claims || claims.exp * 1000 < Date.now()) return false;
    const name = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1];
    return name === undefined || claims.scope === `repository:${name}:pull`;
  }

  private sign(claims: { scope: string; account?: string; exp: number }): string {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createHmac('sha256', this.secret).update(`${header}.${body}`).digest('base64url');
    return `${header}.${body}.${signature}`;
  }

  private verify(token: string): { scope: string; exp: number } | undefined {
    const [header, body, signature] = token.split('.');
    if (!header || !body || !signature) return undefined;
    const expected = createHmac('sha256', this.secret).update(`${header}.${body}`).digest('base64url');
    if (expected !== signature) return undefined;
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { scope: string; exp: number };
  }
}
