// The browser app's entry: the stored theme first (before the first paint of the app), then the
// app into #app of the shell server/routes/ui.ts serves.
import { render } from 'preact';
import { html } from './html.js';
import { App } from './app.js';
import { applyStoredTheme } from './theme.js';

applyStoredTheme();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
