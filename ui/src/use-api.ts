// Fetches one API path for a component: the data, the error and whether a request is under way.
// A new path (or a sign-in) aborts the request before; the data shown stays until the new answer
// comes, so typing in a search box does not blank the list.
import { useEffect, useState } from 'preact/hooks';
import { api, apiOptional } from './api.js';
import { useSession } from './session.js';

export interface Fetched<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  /** Optional endpoints only: the server does not have it. */
  missing: boolean;
  reload(): void;
}

export function useApi<T>(path: string | null, { optional = false } = {}): Fetched<T> {
  const { generation, loaded } = useSession();
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; missing: boolean }>({ loading: !!path, missing: false });
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    // Wait for the session: its auth mode decides how the first request authenticates.
    if (!path || !loaded) return;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    const fetcher = optional ? apiOptional<T>(path, { signal: controller.signal }) : api<T>(path, { signal: controller.signal });
    fetcher.then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, loading: false, missing: optional && data === undefined });
      },
      (error: Error) => {
        if (!controller.signal.aborted) setState({ error, loading: false, missing: false });
      },
    );
    return () => controller.abort();
  }, [path, generation, loaded, reloads, optional]);

  return { ...state, reload: () => setReloads((r) => r + 1) };
}
