// The signed-in user's "user:password", kept in sessionStorage: gone when the tab closes, never
// a cookie (so no CSRF), sent by api.ts as Basic or traded for Bearer tokens.
const KEY = 'stowage.credentials';

export interface Credentials {
  user: string;
  password: string;
}

function storage(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    // Storage disabled: sign-in lasts as long as the page.
    return undefined;
  }
}

let inMemory: Credentials | undefined;

export function getCredentials(): Credentials | undefined {
  const stored = storage()?.getItem(KEY);
  if (stored) {
    const at = stored.indexOf(':');
    if (at > 0) return { user: stored.slice(0, at), password: stored.slice(at + 1) };
  }
  return inMemory;
}

export function setCredentials(credentials: Credentials | undefined): void {
  inMemory = credentials;
  const s = storage();
  if (!s) return;
  if (credentials) s.setItem(KEY, `${credentials.user}:${credentials.password}`);
  else s.removeItem(KEY);
}

/** The Authorization header value for Basic; UTF-8 safe (btoa takes Latin-1 only). */
export function basicAuthorization(credentials: Credentials): string {
  const bytes = new TextEncoder().encode(`${credentials.user}:${credentials.password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}
