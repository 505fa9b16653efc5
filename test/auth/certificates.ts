// X.509 certificates for tests, made with the openssl command (Node can verify certificates but
// not issue them): a CA, intermediates and leaves, P-256 keys, PEM files in a directory.
// If openssl is missing the test that needs it fails; it is part of Debian's base system.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface Issued {
  name: string;
  keyFile: string;
  certFile: string;
  /** PEM text of the key and of the certificate. */
  key: string;
  cert: string;
  /** base64 DER of the certificate, as an x5c entry. */
  der: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function loaded(dir: string, name: string): Issued {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  const cert = readFileSync(certFile, 'utf8');
  const der = cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return { name, keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert, der };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA certificate. */
export function makeRootCa(dir: string, name: string): Issued {
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  return loaded(dir, name);
}

/**
 * A certificate signed by issuer: a CA (intermediate) or a leaf; a leaf may name DNS names and
 * IP addresses for a TLS server.
 */
export function issue(dir: string, issuer: Issued, name: string, options: { ca?: boolean; altNames?: string[] } = {}): Issued {
  openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  const ext = [options.ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=CA:FALSE'];
  ext.push(options.ca ? 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' : 'keyUsage=critical,digitalSignature');
  if (options.altNames?.length) ext.push(`subjectAltName=${options.altNames.join(',')}`);
  writeFileSync(path.join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      issuer.certFile,
      '-CAkey',
      issuer.keyFile,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return loaded(dir, name);
}
