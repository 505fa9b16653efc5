// Keyboard shortcuts: "/" focuses the page's search box (the element marked data-search), or
// goes to the home page's when the page has none. Enter and Escape are the browser's own (links
// open, <dialog> closes).
import { useEffect } from 'preact/hooks';
import { navigate } from './router.js';
import { homeUrl } from './routes.js';

let focusSearchOnMount = false;

/** For the home page's search box: true once after "/" brought the user there. */
export function takeSearchFocus(): boolean {
  const take = focusSearchOnMount;
  focusSearchOnMount = false;
  return take;
}

function isTyping(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element?.closest?.('input, textarea, select, [contenteditable=""], [contenteditable="true"], dialog[open]');
}

export function useShortcuts(): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      event.preventDefault();
      const search = document.querySelector<HTMLInputElement>('[data-search]');
      if (search) {
        search.focus();
        search.select();
      } else {
        focusSearchOnMount = true;
        navigate(homeUrl());
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}
