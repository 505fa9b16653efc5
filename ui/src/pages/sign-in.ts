// Sign in: the form checks the credentials with the registry (session.ts) before keeping them for
// this tab. Shown in the header when the registry has authentication on.
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { PageTitle, useTitle } from '../components.js';
import { html } from '../html.js';
import { navigate } from '../router.js';
import { safeNext } from '../routes.js';
import { useSession } from '../session.js';

export function SignInPage() {
  useTitle('Sign in');
  const { session, user, signIn, signOut } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn({ user: name, password });
      // Back to the page that asked, else home.
      navigate(safeNext(new URLSearchParams(window.location.search).get('next')), { replace: true });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="narrow">
    <${PageTitle}>Sign in<//>
    ${
      session?.auth === 'none'
        ? html`<p class="notice">This registry has no authentication: everyone may pull and push.</p>`
        : html`
            ${user ? html`<p class="notice">Signed in as <strong>${user}</strong>. <button type="button" class="link-button" onClick=${signOut}>Sign out</button></p>` : null}
            <form class="card form" onSubmit=${submit} data-testid="sign-in-form">
              <p class="muted small">
                The same user and password as <code>docker login</code>. They are kept in this tab only (session storage) and sent to this registry
                alone.
              </p>
              <div class="field">
                <label for="sign-in-user">User</label>
                <input
                  id="sign-in-user"
                  name="username"
                  autocomplete="username"
                  required
                  value=${name}
                  onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)}
                  data-testid="sign-in-user"
                />
              </div>
              <div class="field">
                <label for="sign-in-password">Password</label>
                <input
                  id="sign-in-password"
                  name="password"
                  type="password"
                  autocomplete="current-password"
                  required
                  value=${password}
                  onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)}
                  data-testid="sign-in-password"
                />
              </div>
              <div class="form-error" role="alert" data-testid="sign-in-error">${error ?? ''}</div>
              <button type="submit" class="button" disabled=${busy} data-testid="sign-in-submit">${busy ? 'Signing in…' : 'Sign in'}</button>
            </form>
          `
    }
  </div>`;
}
