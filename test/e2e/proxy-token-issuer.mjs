// A token issuer for the proxy e2e (test/e2e/proxy.sh): distribution's token auth spec, enough
// for Debian's docker-registry configured with auth.token. Tokens are RS256 JWTs whose header
// carries the signing certificate (x5c), which the registry checks against its rootcertbundle.
// Every request must bring the one user's Basic credentials; the token grants what it asks for.
//   node proxy-token-issuer.mjs PORT KEY.pem CERT.pem ISSUER SERVICE USER PASSWORD
import { createServer } from 'node:http';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [port, keyFile, certFile, issuer, service, user, password] = process.argv.slice(2);
const key = readFileSync(keyFile, 'utf8');
const certDer = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function sign(claims) {
  const header = b64url({ typ: 'JWT', alg: 'RS256', x5c: [certDer] });
  const body = b64url(claims);
  const signature = createSign('RSA-SHA256').update(`${header}.${body}`).sign(key).toString('base64url');
  return `${header}.${body}.${signature}`;
}

/** "repository:library/busybox:pull,push" -> { type, name, actions } */
function parseScope(scope) {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

let issued = 0;
createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://issuer');
  if (url.pathname === '/issued') {
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(String(issued));
    return;
  }
  if (url.pathname !== '/token') {
    res.writeHead(404).end();
    return;
  }
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  if (req.headers.authorization !== expected) {
    res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ details: 'wrong or missing credentials' }));
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  const access = url.searchParams.getAll('scope').map(parseScope).filter(Boolean);
  const token = sign({
    iss: issuer,
    sub: user,
    aud: url.searchParams.get('service') ?? service,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomUUID(),
    access,
  });
  issued += 1;
  res
    .writeHead(200, { 'Content-Type': 'application/json' })
    .end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
}).listen(Number(port), '127.0.0.1');
