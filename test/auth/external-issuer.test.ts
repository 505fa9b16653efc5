// Trusting an external token issuer (auth.token.rootcertbundle, as Distribution does): tokens
// whose x5c chain leads to a bundle certificate, or whose kid or jwk names a bundle certificate's
// key (RFC 7638 thumbprint or libtrust id), are accepted when issuer, audience and validity match;
// anything else is refused. The access claim alone decides what the token allows.
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { SignJWT, exportJWK, type JWTHeaderParameters } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libtrustKeyId, thumbprint } from '../../auth/token-keys.js';
import { InvalidTokenError, TokenVerifier, readCertificateBundle } from '../../auth/token-verifier.js';
import { openAuth } from '../../auth/open-auth.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { issue, makeRootCa, type Issued } from './certificates.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry } from '../helpers/test-registry.js';

const ISSUER = 'external-auth';
const SERVICE = 'registry.test';
const ACCESS = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];

let dir: string;
let root: Issued;
let intermediate: Issued;
let leaf: Issued;
let strangerLeaf: Issued;
let bundleFile: string;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-issuer-'));
  root = makeRootCa(dir, 'root');
  intermediate = issue(dir, root, 'intermediate', { ca: true });
  leaf = issue(dir, intermediate, 'token-signer');
  const stranger = makeRootCa(dir, 'stranger');
  strangerLeaf = issue(dir, stranger, 'stranger-signer');
  bundleFile = path.join(dir, 'bundle.pem');
  await fsp.writeFile(bundleFile, root.cert);
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function sign(
  key: KeyObject,
  header: Partial<JWTHeaderParameters>,
  claims: { iss?: string; aud?: string | string[]; exp?: number; nbf?: number; sub?: string } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ access: ACCESS })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', ...header })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? SERVICE)
    .setSubject(claims.sub ?? 'ci-robot')
    .setNotBefore(claims.nbf ?? now - 10)
    .setExpirationTime(claims.exp ?? now + 300)
    .sign(key);
}

async function verifier(): Promise<TokenVerifier> {
  return TokenVerifier.create({ issuer: ISSUER, service: SERVICE, rootCertificates: await readCertificateBundle(bundleFile) });
}

describe('an external issuer trusted through a certificate bundle', () => {
  it('accepts a token whose x5c chain (leaf, intermediate) leads to the bundle', async () => {
    const token = await sign(createPrivateKey(leaf.key), { x5c: [leaf.der, intermediate.der] });
    const verified = await (await verifier()).verify(token);
    expect(verified).toEqual({ subject: 'ci-robot', access: ACCESS });
  });

  it('refuses an x5c chain missing its intermediate, or from another CA', async () => {
    const v = await verifier();
    await expect(v.verify(await sign(createPrivateKey(leaf.key), { x5c: [leaf.der] }))).rejects.toThrow(/trusted root/);
    await expect(v.verify(await sign(createPrivateKey(strangerLeaf.key), { x5c: [strangerLeaf.der] }))).rejects.toThrow(InvalidTokenError);
  });

  it('refuses a token signed by another key than its x5c leaf', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await expect((await verifier()).verify(await sign(other, { x5c: [leaf.der, intermediate.der] }))).rejects.toThrow(/signature/);
  });

  it('refuses a leaf certificate used as an intermediate', async () => {
    const fake = issue(dir, leaf, 'issued-by-leaf');
    await expect((await verifier()).verify(await sign(createPrivateKey(fake.key), { x5c: [fake.der, leaf.der, intermediate.der] }))).rejects.toThrow(
      /chain/,
    );
  });

  it('accepts a kid naming the bundle key, as an RFC 7638 thumbprint or a libtrust id', async () => {
    const rootKey = createPrivateKey(root.key);
    const rootPublic = new X509Certificate(root.cert).publicKey;
    const v = await verifier();
    expect((await v.verify(await sign(rootKey, { kid: await thumbprint(rootPublic) }))).subject).toBe('ci-robot');
    expect(libtrustKeyId(rootPublic)).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect((await v.verify(await sign(rootKey, { kid: libtrustKeyId(rootPublic) }))).subject).toBe('ci-robot');
    await expect(v.verify(await sign(rootKey, { kid: 'unknown-key' }))).rejects.toThrow(/untrusted key/);
  });

  it('accepts a jwk header that is a trusted key, refuses an untrusted one', async () => {
    const rootKey = createPrivateKey(root.key);
    const v = await verifier();
    const trusted = await exportJWK(createPublicKey(rootKey));
    expect((await v.verify(await sign(rootKey, { jwk: trusted }))).access).toEqual(ACCESS);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(v.verify(await sign(stranger.privateKey, { jwk: await exportJWK(stranger.publicKey) }))).rejects.toThrow(InvalidTokenError);
  });

  it('refuses a token that names no key, a wrong issuer or audience, or is out of its validity', async () => {
    const key = createPrivateKey(leaf.key);
    const x5c = [leaf.der, intermediate.der];
    const now = Math.floor(Date.now() / 1000);
    const v = await verifier();
    await expect(v.verify(await sign(key, {}))).rejects.toThrow(/no signing key/);
    await expect(v.verify(await sign(key, { x5c }, { iss: 'other' }))).rejects.toThrow(InvalidTokenError);
    await expect(v.verify(await sign(key, { x5c }, { aud: 'other' }))).rejects.toThrow(InvalidTokenError);
    await expect(v.verify(await sign(key, { x5c }, { exp: now - 61 }))).rejects.toThrow(InvalidTokenError);
    await expect(v.verify(await sign(key, { x5c }, { nbf: now + 120 }))).rejects.toThrow(InvalidTokenError);
    // Within the 60 s leeway, as Distribution allows for clock skew.
    expect((await v.verify(await sign(key, { x5c }, { exp: now - 30 }))).subject).toBe('ci-robot');
    // An audience list holding the service is accepted.
    expect((await v.verify(await sign(key, { x5c }, { aud: ['x', SERVICE] }))).subject).toBe('ci-robot');
  });

  it('refuses an unsigned (alg none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ iss: ISSUER, aud: SERVICE, exp: Math.floor(Date.now() / 1000) + 60, access: ACCESS })).toString(
      'base64url',
    );
    await expect((await verifier()).verify(`${header}.${claims}.`)).rejects.toThrow(InvalidTokenError);
  });
});

describe('a registry trusting an external issuer', () => {
  it('serves what the token grants, and answers 401 insufficient_scope otherwise', async () => {
    const reg = await startTestRegistry(filesystemDriverFactory, {
      config: () => ({ auth: { token: { realm: 'https://auth.example.test/token', service: SERVICE, issuer: ISSUER, rootcertbundle: bundleFile } } }),
      logs: true,
    });
    try {
      const token = await sign(createPrivateKey(leaf.key), { x5c: [leaf.der, intermediate.der] });
      const { statuses } = await tryPushImage(reg, 'team/app', 'v1', { authorization: `Bearer ${token}` });
      expect(statuses).toEqual([201, 201, 201]);
      expectAnswer(await reg.request.get('/v2/team/app/manifests/v1').set('Authorization', `Bearer ${token}`), 200);
      const other = await reg.request.get('/v2/team/other/manifests/v1').set('Authorization', `Bearer ${token}`);
      // The registry does not know the issuer's rules: a new token might help, so 401, not 403.
      expectError(other, 401, 'UNAUTHORIZED');
      expect(other.headers['www-authenticate']).toBe(
        `Bearer realm="https://auth.example.test/token",service="${SERVICE}",scope="repository:team/other:pull",error="insufficient_scope"`,
      );
      // There is no built-in token endpoint.
      expectError(await reg.request.get('/token'), 405, 'UNSUPPORTED');
    } finally {
      await reg.cleanup();
    }
  });

  it('does not start without a bundle, a jwks file or the built-in issuer', async () => {
    const logger = { info() {}, warn() {} };
    const settings = { groups: {}, loginLimits: { attempts: 5, windowMs: 60_000, lockoutMs: 60_000 } };
    await expect(openAuth({ ...settings, token: { realm: 'r', service: 's', issuer: 'i' } }, logger)).rejects.toThrow(/rootcertbundle/);
    await expect(
      openAuth({ ...settings, token: { realm: 'r', service: 's', issuer: 'i', rootcertbundle: path.join(dir, 'missing.pem') } }, logger),
    ).rejects.toThrow(/auth.token.rootcertbundle/);
    await expect(openAuth({ ...settings, issuer: { htpasswd: 'x', expiryMs: 1000 } }, logger)).rejects.toThrow(/needs auth.token/);
  });
});
