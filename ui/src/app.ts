// The page frame (skip link, header with navigation, theme and sign-in, <main>, footer) and the
// choice of page from the URL (routes.ts). After a navigation, focus moves to the new page's
// heading, as a full page load would announce it.
import { useEffect, useRef } from 'preact/hooks';
import { html } from './html.js';
import { Logo } from './icons.js';
import { useShortcuts } from './keyboard.js';
import { Link, useLocation } from './router.js';
import { BASE, homeUrl, pageUrl, parseRoute, signInUrl, type Route } from './routes.js';
import { SessionContext, useSession, useSessionState } from './session.js';
import { ThemeToggle } from './theme.js';
import { HomePage } from './pages/home.js';
import { RepositoryPage } from './pages/repository.js';
import { ImagePage } from './pages/image.js';
import { ProxiesPage } from './pages/proxies.js';
import { UsagePage } from './pages/usage.js';
import { RetentionPage } from './pages/retention.js';
import { SignInPage } from './pages/sign-in.js';
import { NotFoundPage } from './pages/not-found.js';

function NavLink({ href, active, children }: { href: string; active: boolean; children: string }) {
  return html`<${Link} href=${href} class=${active ? 'nav-link active' : 'nav-link'} aria-current=${active ? 'page' : undefined}>${children}<//>`;
}

function Account() {
  const { session, loaded, user, signOut } = useSession();
  if (!loaded || session?.auth === 'none') return null;
  if (user) {
    return html`<div class="account">
      <span class="user" title="Signed in">${user}</span>
      <button type="button" class="button ghost small" onClick=${signOut} data-testid="sign-out">Sign out</button>
    </div>`;
  }
  const here = window.location.pathname + window.location.search;
  return html`<${Link} href=${here.startsWith(pageUrl.signIn) ? here : signInUrl(here)} class="button small" data-testid="sign-in-link">Sign in<//>`;
}

function Header({ route }: { route: Route }) {
  const onRepositories = route.page === 'home' || route.page === 'repository' || route.page === 'image';
  return html`<header class="topbar">
    <div class="topbar-inner">
      <${Link} href=${homeUrl()} class="brand" aria-label="stowage home"><${Logo} /><span>stowage</span><//>
      <nav aria-label="Main">
        <${NavLink} href=${homeUrl()} active=${onRepositories}>Repositories<//>
        <${NavLink} href=${pageUrl.proxies} active=${route.page === 'proxies'}>Proxies<//>
        <${NavLink} href=${pageUrl.usage} active=${route.page === 'usage'}>Usage<//>
        <${NavLink} href=${pageUrl.retention} active=${route.page === 'retention'}>Retention<//>
      </nav>
      <div class="topbar-end">
        <${ThemeToggle} />
        <${Account} />
      </div>
    </div>
  </header>`;
}

function Footer() {
  const { session } = useSession();
  return html`<footer class="footer">
    <span>${session?.name ?? 'stowage'}${session?.version ? ` ${session.version}` : ''}</span>
    <span>Registry API <code>/v2/</code></span>
    <span>JSON API <code>/api/v1/</code></span>
    <span>Health <a href="/healthz">/healthz</a></span>
    <span>Metrics <a href="/metrics">/metrics</a></span>
  </footer>`;
}

function Page({ route, query }: { route: Route; query: URLSearchParams }) {
  switch (route.page) {
    case 'home':
      return html`<${HomePage} query=${query} />`;
    case 'repository':
      return html`<${RepositoryPage} key=${route.name} name=${route.name} query=${query} />`;
    case 'image':
      return html`<${ImagePage}
        key=${`${route.name}/${route.reference}`}
        name=${route.name}
        reference=${route.reference}
        by=${route.by}
        query=${query}
      />`;
    case 'proxies':
      return html`<${ProxiesPage} />`;
    case 'usage':
      return html`<${UsagePage} />`;
    case 'retention':
      return html`<${RetentionPage} />`;
    case 'sign-in':
      return html`<${SignInPage} />`;
    default:
      return html`<${NotFoundPage} path=${route.path} />`;
  }
}

export function App() {
  const sessionState = useSessionState();
  const location = useLocation();
  const route = parseRoute(location.path);
  const shownPath = useRef(location.path);
  useShortcuts();

  useEffect(() => {
    if (location.path === shownPath.current) return;
    shownPath.current = location.path;
    if (location.how !== 'push') return;
    window.scrollTo(0, 0);
    // Unless the new page focused something itself (the search box after "/").
    const focused = document.activeElement;
    if (focused && focused !== document.body && document.getElementById('main')?.contains(focused)) return;
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [location.path, location.how]);

  // /ui (no slash) and /ui/ are the same page; keep one address.
  useEffect(() => {
    if (location.path === BASE) window.history.replaceState(null, '', `${BASE}/${window.location.search}`);
  }, [location.path]);

  return html`<${SessionContext.Provider} value=${sessionState}>
    <a class="skip-link" href="#main">Skip to content</a>
    <${Header} route=${route} />
    <main id="main" tabindex="-1">
      <${Page} route=${route} query=${location.query} />
    </main>
    <${Footer} />
  <//>`;
}
