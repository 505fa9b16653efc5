// What a request's Authorization header carries (RFC 7617 Basic, RFC 6750 Bearer), and the
// WWW-Authenticate challenges that ask for them. Header values are quoted safely.

export type Credentials = { scheme: 'basic'; user: string; password: string } | { scheme: 'bearer'; token: string } | { scheme: 'malformed' };

/** undefined when the request carries no Authorization header, or empty Basic credentials. */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return { scheme: 'malformed' };
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    // containers/image sends "Basic Og==" (":") when it has no credentials: that is no login.
    if (decoded === ':') return undefined;
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { scheme: 'malformed' };
    return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (scheme === 'bearer' && value) return { scheme: 'bearer', token: value };
  return { scheme: 'malformed' };
}

/** A quoted-string parameter value (RFC 9110 5.6.4): quotes and backslashes escaped, controls dropped. */
function quote(value: string): string {
  return `"${value.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

export function basicChallenge(realm: string): string {
  return `Basic realm=${quote(realm)}`;
}

export interface BearerChallenge {
  realm: string;
  service: string;
  scope?: string;
  error?: 'invalid_token' | 'insufficient_scope';
}

export function bearerChallenge({ realm, service, scope, error }: BearerChallenge): string {
  let out = `Bearer realm=${quote(realm)},service=${quote(service)}`;
  if (scope) out += `,scope=${quote(scope)}`;
  if (error) out += `,error=${quote(error)}`;
  return out;
}
