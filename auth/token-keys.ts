// Keys of the token world: the built-in issuer's signing key (read from a PEM file, or generated
// at first start and kept with mode 0600), the JWS algorithm a key signs with, and the key ids a
// token's `kid` header may name: the RFC 7638 thumbprint (Distribution 3) and the libtrust
// fingerprint older issuers (docker_auth, Distribution 2) put there.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: string;
  /** RFC 7638 thumbprint of the public key, put in each token's `kid` header. */
  kid: string;
}

/** The JWS algorithm for a key, or undefined for a key type tokens cannot use. */
export function algorithmFor(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec':
      return { prime256v1: 'ES256', 'P-256': 'ES256', secp384r1: 'ES384', 'P-384': 'ES384', secp521r1: 'ES512', 'P-521': 'ES512' }[
        key.asymmetricKeyDetails?.namedCurve ?? ''
      ];
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** libtrust's key id: 240 bits of SHA-256 over the DER public key, base32, in groups of four. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const encoded = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  return encoded.match(/.{4}/g)!.join(':');
}

export async function thumbprint(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

/** Every id a token header may use to name this key. */
export async function keyIds(publicKey: KeyObject): Promise<string[]> {
  return [await thumbprint(publicKey), libtrustKeyId(publicKey)];
}

async function signingKeyFrom(pem: string, path: string): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`token signing key ${path} is not a PEM private key: ${(err as Error).message}`);
  }
  const alg = algorithmFor(privateKey);
  if (!alg) throw new Error(`token signing key ${path}: use an EC (P-256, P-384, P-521), RSA or Ed25519 key`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg, kid: await thumbprint(publicKey) };
}

/**
 * The key at path; when create is set and the file does not exist, a new P-256 key is written
 * there first (exclusively, so two processes starting together end up with the same key).
 */
export async function loadSigningKey(path: string, options: { create: boolean }): Promise<SigningKey> {
  try {
    return await signingKeyFrom(await readFile(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`token signing key ${path} does not exist`);
      throw err;
    }
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return signingKeyFrom(await readFile(path, 'utf8'), path);
  }
  return signingKeyFrom(pem, path);
}
