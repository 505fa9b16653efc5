// A small client-side router on the History API: navigate() pushes (or replaces) a URL and every
// useLocation() caller re-renders; back and forward arrive as popstate. <Link> is a real <a>
// (open in a new tab, copy the address) whose plain left click navigates in place.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

type Listener = (how: 'push' | 'replace' | 'pop') => void;
const listeners = new Set<Listener>();

function notify(how: 'push' | 'replace' | 'pop'): void {
  for (const listener of listeners) listener(how);
}

window.addEventListener('popstate', () => notify('pop'));

export function navigate(url: string, { replace = false } = {}): void {
  const here = window.location.pathname + window.location.search;
  if (url === here) return;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  notify(replace ? 'replace' : 'push');
}

export interface Location {
  path: string;
  query: URLSearchParams;
  /** How the location last changed: a push moves focus to the new page's heading. */
  how: 'load' | 'push' | 'replace' | 'pop';
}

export function useLocation(): Location {
  const [how, setHow] = useState<Location['how']>('load');
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener: Listener = (change) => {
      setHow(change);
      setTick((t) => t + 1);
    };
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search), how };
}

export interface LinkProps {
  href: string;
  children?: ComponentChildren;
  [attribute: string]: unknown;
}

export function Link({ href, children, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}
