// The few icons the UI draws, as inline SVG (no icon font, nothing fetched). Decorative: the
// button or link around each names the action.
import { html } from './html.js';

const svg = (body: unknown, size = 18) =>
  html`<svg
    width=${size}
    height=${size}
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    stroke-width="2"
    stroke-linecap="round"
    stroke-linejoin="round"
    aria-hidden="true"
    focusable="false"
  >
    ${body}
  </svg>`;

export const Logo = () =>
  html`<svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
    <rect x="3" y="4" width="26" height="7" rx="2" fill="#2ab89a" />
    <rect x="3" y="13" width="26" height="7" rx="2" fill="#1f9c83" />
    <rect x="3" y="22" width="26" height="7" rx="2" fill="#177a66" />
  </svg>`;

export const CopyIcon = () => svg(html`<rect x="9" y="9" width="12" height="12" rx="2" /><path d="M5 15V5a2 2 0 0 1 2-2h10" />`, 16);
export const CheckIcon = () => svg(html`<path d="M20 6 9 17l-5-5" />`, 16);
export const SunIcon = () =>
  svg(
    html`<circle cx="12" cy="12" r="4" /><path
        d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4"
      />`,
  );
export const MoonIcon = () => svg(html`<path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z" />`);
export const SearchIcon = () => svg(html`<circle cx="11" cy="11" r="7" /><path d="m20 20-3.5-3.5" />`, 16);
export const DownloadIcon = () => svg(html`<path d="M12 3v12M7 10l5 5 5-5M5 21h14" />`, 16);
export const LockIcon = () => svg(html`<rect x="5" y="11" width="14" height="10" rx="2" /><path d="M8 11V7a4 4 0 0 1 8 0v4" />`, 16);
export const TrashIcon = () => svg(html`<path d="M3 6h18M8 6V4h8v2M6 6l1 14h10l1-14" />`, 16);
