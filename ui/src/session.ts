// Who is using the UI: /api/v1/session (auth mode, user, delete and read-only switches, version),
// loaded once at start and again after signing in or out. `generation` changes on each of those,
// so pages fetch again with the new identity. Signing in checks the credentials first: GET
// /api/v1/session with Basic (htpasswd), or a token from the realm /v2/'s challenge names (token
// mode); a 401 means wrong.
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, api, apiOptional, fetchToken, forgetTokens, setAuthMode } from './api.js';
import type { Session } from './api-types.js';
import { parseChallenge } from './challenge.js';
import { getCredentials, setCredentials, type Credentials } from './credentials.js';

export interface SessionState {
  /** undefined until loaded, and when the server has no /api/v1/session. */
  session?: Session;
  loaded: boolean;
  /** A signed-in user's name (from the session, else from the stored credentials). */
  user?: string;
  generation: number;
  signIn(credentials: Credentials): Promise<void>;
  signOut(): void;
}

export const SessionContext = createContext<SessionState>({
  loaded: false,
  generation: 0,
  signIn: async () => undefined,
  signOut: () => undefined,
});

export function useSession(): SessionState {
  return useContext(SessionContext);
}

async function loadSession(): Promise<Session | undefined> {
  try {
    const session = await apiOptional<Session>('/api/v1/session');
    setAuthMode(session?.auth);
    return session;
  } catch (err) {
    // Stored credentials the server no longer takes: forget them rather than fail every page.
    if (err instanceof ApiError && err.status === 401 && getCredentials()) {
      setCredentials(undefined);
      forgetTokens();
      return loadSession();
    }
    return undefined;
  }
}

async function checkCredentials(credentials: Credentials, mode: Session['auth'] | undefined): Promise<void> {
  if (mode === 'token') {
    // The realm and service the registry's challenge names (the built-in /token by default).
    const res = await fetch('/v2/', { headers: { 'X-Stowage-UI': '1' }, credentials: 'omit' });
    const challenge = parseChallenge(res.headers.get('X-Stowage-Authenticate') ?? res.headers.get('WWW-Authenticate'));
    const realm = challenge?.scheme === 'bearer' && challenge.params.realm ? challenge.params.realm : '/token';
    await fetchToken({ scheme: 'bearer', params: { realm, service: challenge?.params.service ?? '' } }, credentials);
    return;
  }
  if (mode === 'htpasswd') {
    await api<Session>('/api/v1/session', { credentials });
    return;
  }
  // A server without /api/v1/session: /v2/ says whether the credentials are good.
  await api<unknown>('/v2/', { credentials });
}

export function useSessionState(): SessionState {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [loaded, setLoaded] = useState(false);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let live = true;
    void loadSession().then((s) => {
      if (!live) return;
      setSession(s);
      setLoaded(true);
    });
    return () => {
      live = false;
    };
  }, [generation]);

  const signIn = useCallback(
    async (credentials: Credentials) => {
      await checkCredentials(credentials, session?.auth);
      setCredentials(credentials);
      forgetTokens();
      setGeneration((g) => g + 1);
    },
    [session],
  );

  const signOut = useCallback(() => {
    setCredentials(undefined);
    forgetTokens();
    setGeneration((g) => g + 1);
  }, []);

  const user = session?.user ?? getCredentials()?.user;
  return { session, loaded, user: user ?? undefined, generation, signIn, signOut };
}
