// Light and dark themes: the system's choice (prefers-color-scheme) until the user picks one with
// the toggle; the pick is kept in localStorage and applied as data-theme on <html>, which
// styles.css reads before the media query.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { MoonIcon, SunIcon } from './icons.js';

const KEY = 'stowage.theme';
type Theme = 'light' | 'dark';

function stored(): Theme | undefined {
  try {
    const value = window.localStorage.getItem(KEY);
    return value === 'light' || value === 'dark' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function applyStoredTheme(): void {
  const theme = stored();
  if (theme) document.documentElement.dataset.theme = theme;
}

function effectiveTheme(): Theme {
  const set = document.documentElement.dataset.theme;
  if (set === 'light' || set === 'dark') return set;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(effectiveTheme);
  const other: Theme = theme === 'dark' ? 'light' : 'dark';
  const toggle = () => {
    document.documentElement.dataset.theme = other;
    try {
      window.localStorage.setItem(KEY, other);
    } catch {
      // Not kept across visits, still applied.
    }
    setTheme(other);
  };
  return html`<button
    type="button"
    class="icon-button"
    data-testid="theme-toggle"
    aria-label=${`Switch to the ${other} theme`}
    title=${`Switch to the ${other} theme`}
    onClick=${toggle}
  >
    ${theme === 'dark' ? html`<${SunIcon} />` : html`<${MoonIcon} />`}
  </button>`;
}
