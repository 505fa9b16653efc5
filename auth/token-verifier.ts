// Checks a Bearer token the way Distribution's token access controller does (docs/spec/auth/jwt.md):
// the signing key must be trusted (an `x5c` chain up to a certificate of auth.token.rootcertbundle,
// a `jwk` or `kid` naming a trusted key: a bundle certificate's key, a key of the jwks file, or the
// built-in issuer's key), the issuer must be auth.token.issuer, the audience auth.token.service,
// and the token must be within its validity (60 s leeway). The `access` claim is what it grants.
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, jwtVerify, type JWK, type JWTHeaderParameters } from 'jose';
import { keyIds } from './token-keys.js';
import type { ResourceAccess } from './scope.js';

export const TOKEN_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];
const LEEWAY_SECONDS = 60;
const MAX_CHAIN = 8;
const MAX_TOKEN_LENGTH = 16 * 1024;

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

export interface VerifiedToken {
  /** The `sub` claim: the user the token was issued to; "" for an anonymous token. */
  subject: string;
  access: ResourceAccess[];
  /** The `iat` claim, seconds; undefined when the token has none. */
  issuedAt?: number;
}

export interface VerifierOptions {
  issuer: string;
  service: string;
  /** PEM certificates: roots for x5c chains, and their keys trusted by kid. */
  rootCertificates?: X509Certificate[];
  /** Public keys trusted by kid or jwk: a jwks file's keys, the built-in issuer's key. */
  keys?: Array<{ key: KeyObject; kid?: string }>;
  now?: () => number;
}

/** The certificates of a PEM bundle file. */
export async function readCertificateBundle(path: string): Promise<X509Certificate[]> {
  const text = await readFile(path, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate`);
  return blocks.map((b) => new X509Certificate(b));
}

/** The keys of a JWK set file ({"keys": [...]}), with their kid. */
export async function readJwks(path: string): Promise<Array<{ key: KeyObject; kid?: string }>> {
  const doc = JSON.parse(await readFile(path, 'utf8')) as { keys?: Array<JWK & { kid?: string }> };
  if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw new Error(`${path} holds no keys`);
  return doc.keys.map((jwk) => ({ key: createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }), kid: jwk.kid }));
}

function parseAccess(claim: unknown): ResourceAccess[] {
  if (!Array.isArray(claim)) return [];
  const out: ResourceAccess[] = [];
  for (const entry of claim as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    out.push({ type, name, actions: actions.filter((a): a is string => typeof a === 'string') });
  }
  return out;
}

export class TokenVerifier {
  private readonly trusted = new Map<string, KeyObject>();

  private constructor(private readonly options: VerifierOptions) {}

  static async create(options: VerifierOptions): Promise<TokenVerifier> {
    const verifier = new TokenVerifier(options);
    for (const cert of options.rootCertificates ?? []) {
      for (const id of await keyIds(cert.publicKey)) verifier.trusted.set(id, cert.publicKey);
    }
    for (const { key, kid } of options.keys ?? []) {
      for (const id of await keyIds(key)) verifier.trusted.set(id, key);
      if (kid) verifier.trusted.set(kid, key);
    }
    return verifier;
  }

  private nowDate(): Date {
    return new Date(this.options.now?.() ?? Date.now());
  }

  /** The leaf key of an x5c chain that leads to one of the root certificates. */
  private verifyChain(x5c: unknown): KeyObject {
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((c) => typeof c === 'string')) {
      throw new InvalidTokenError('malformed x5c header');
    }
    let chain: X509Certificate[];
    try {
      chain = (x5c as string[]).map((c) => new X509Certificate(Buffer.from(c, 'base64')));
    } catch {
      throw new InvalidTokenError('unparseable certificate in x5c');
    }
    const now = this.nowDate();
    for (const cert of chain) {
      if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw new InvalidTokenError('certificate outside its validity');
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const issuer = chain[i + 1];
      if (!issuer.ca || !chain[i].checkIssued(issuer) || !chain[i].verify(issuer.publicKey)) throw new InvalidTokenError('broken certificate chain');
    }
    const top = chain[chain.length - 1];
    const roots = this.options.rootCertificates ?? [];
    const anchored = roots.some(
      (root) =>
        root.fingerprint256 === top.fingerprint256 ||
        (root.ca && top.checkIssued(root) && top.verify(root.publicKey) && now <= new Date(root.validTo)),
    );
    if (!anchored) throw new InvalidTokenError('certificate chain does not lead to a trusted root');
    return chain[0].publicKey;
  }

  private async signingKey(header: JWTHeaderParameters): Promise<KeyObject> {
    if (header.x5c !== undefined) return this.verifyChain(header.x5c);
    if (header.jwk !== undefined) {
      let id: string;
      try {
        id = await calculateJwkThumbprint(header.jwk);
      } catch {
        throw new InvalidTokenError('malformed jwk header');
      }
      const key = this.trusted.get(id);
      if (key) return key;
      const leaf = this.verifyChain((header.jwk as { x5c?: unknown }).x5c);
      if ((await keyIds(leaf))[0] !== id) throw new InvalidTokenError('jwk does not match its certificate');
      return leaf;
    }
    if (typeof header.kid === 'string') {
      const key = this.trusted.get(header.kid);
      if (!key) throw new InvalidTokenError('token signed by an untrusted key');
      return key;
    }
    throw new InvalidTokenError('token names no signing key');
  }

  /** The token's subject and grants; throws InvalidTokenError for anything not to be trusted. */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('token too long');
    try {
      const { payload } = await jwtVerify(token, (header) => this.signingKey(header), {
        issuer: this.options.issuer,
        audience: this.options.service,
        algorithms: TOKEN_ALGORITHMS,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp'],
        currentDate: this.nowDate(),
      });
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : '',
        access: parseAccess(payload.access),
        issuedAt: typeof payload.iat === 'number' ? payload.iat : undefined,
      };
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      // jose's message says what failed (signature, exp, aud ...) and never includes the token.
      throw new InvalidTokenError((err as Error).message || 'invalid token');
    }
  }
}
