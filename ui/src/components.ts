// Small pieces every page uses: times, sizes, digests with a copy button, code snippets, the
// loading and error states, and the modal dialog.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { html } from './html.js';
import { CheckIcon, CopyIcon } from './icons.js';
import { humanSize, relativeTime, shortDigest } from './format.js';
import { Link } from './router.js';
import { signInUrl } from './routes.js';

export function Time({ iso, never = '—' }: { iso: string | null | undefined; never?: string }) {
  if (!iso) return html`<span class="muted">${never}</span>`;
  return html`<time datetime=${iso} title=${iso}>${relativeTime(iso)}</time>`;
}

export function Size({ bytes }: { bytes: number | null | undefined }) {
  return html`<span class="num" title=${bytes === null || bytes === undefined ? undefined : `${bytes.toLocaleString('en')} bytes`}
    >${humanSize(bytes)}</span
  >`;
}

/** Copies with the Clipboard API, or (plain HTTP on a LAN name is no secure context) a selection. */
async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through to the selection.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

export function CopyButton({ text, label = 'Copy', testid }: { text: string; label?: string; testid?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 1600);
    return () => clearTimeout(timer);
  }, [state]);
  const onClick = async () => setState((await copyText(text)) ? 'copied' : 'failed');
  return html`<button type="button" class="copy" onClick=${onClick} aria-label=${label} title=${label} data-testid=${testid}>
    ${state === 'copied' ? html`<${CheckIcon} />` : html`<${CopyIcon} />`}
    <span class="copy-state" aria-live="polite">${state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy' : ''}</span>
  </button>`;
}

export function Digest({ digest, href }: { digest: string; href?: string }) {
  const short = shortDigest(digest);
  return html`<span class="digest">
    ${href ? html`<${Link} href=${href} class="mono" title=${digest}>${short}<//>` : html`<code class="mono" title=${digest}>${short}</code>`}
    <${CopyButton} text=${digest} label=${`Copy digest ${digest}`} />
  </span>`;
}

export function Snippet({ text, label }: { text: string; label: string }) {
  return html`<div class="snippet">
    <pre tabindex="0" aria-label=${label}><code>${text}</code></pre>
    <${CopyButton} text=${text} label=${`Copy: ${label}`} />
  </div>`;
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return html`<p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>${what}…</p>`;
}

export function ErrorMessage({ error, what }: { error: Error; what?: string }) {
  const status = error instanceof ApiError ? error.status : undefined;
  let text = error.message;
  let action: ComponentChildren = null;
  if (status === 401) {
    text = 'You need to sign in to see this.';
    action = html`<${Link} href=${signInUrl(window.location.pathname + window.location.search)}>Sign in<//>`;
  } else if (status === 403) text = 'You may not see this.';
  else if (status === 404 && error instanceof ApiError && error.code === 'NAME_UNKNOWN') text = `No such ${what ?? 'repository'}.`;
  else if (status === 404 && error instanceof ApiError && error.code === 'MANIFEST_UNKNOWN') text = `No such ${what ?? 'image'}.`;
  return html`<div class="notice error" role="alert">
    <strong>${text}</strong>
    ${action} ${(status === 401 || status === 403) && text !== error.message ? html`<div class="muted small">${error.message}</div>` : null}
  </div>`;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return html`<div class="empty">${children}</div>`;
}

/** A modal <dialog>: focus stays inside, Escape closes it (the browser's own handling). */
export function Dialog({
  open,
  title,
  onClose,
  children,
  testid,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testid?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-labelledby="dialog-title" onClose=${onClose} data-testid=${testid}>
    ${
      open
        ? html`<h2 id="dialog-title">${title}</h2>
            ${children}`
        : null
    }
  </dialog>`;
}

/** A page's heading (focused after navigation, so screen readers announce the new page). */
export function PageTitle({ children, sub }: { children: ComponentChildren; sub?: ComponentChildren }) {
  return html`<div class="page-title">
    <h1 tabindex="-1">${children}</h1>
    ${sub ? html`<div class="page-sub">${sub}</div>` : null}
  </div>`;
}

export function Stat({ label, value, hint, testid }: { label: string; value: ComponentChildren; hint?: ComponentChildren; testid?: string }) {
  return html`<div class="stat" data-testid=${testid}>
    <div class="stat-value">${value}</div>
    <div class="stat-label">${label}</div>
    ${hint ? html`<div class="stat-hint">${hint}</div>` : null}
  </div>`;
}

/** Sets document.title for the page shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · stowage` : 'stowage';
  }, [title]);
}
