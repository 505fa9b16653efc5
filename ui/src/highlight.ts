// JSON with colours: the tokens of json-tokens.ts as <span> vnodes (Preact escapes their text;
// no innerHTML anywhere). Past a size, plain text: thousands of spans cost more than they help.
import { useMemo } from 'preact/hooks';
import { html } from './html.js';
import { prettyJson, tokenizeJson } from './json-tokens.js';

const HIGHLIGHT_LIMIT = 256 * 1024;

export function JsonView({ text, label, testid }: { text: string; label: string; testid?: string }) {
  const pretty = useMemo(() => prettyJson(text), [text]);
  const body = useMemo(() => {
    if (pretty.length > HIGHLIGHT_LIMIT) return pretty;
    return tokenizeJson(pretty).map((t) => (t.kind === 'space' || t.kind === 'punct' ? t.text : html`<span class=${`j-${t.kind}`}>${t.text}</span>`));
  }, [pretty]);
  return html`<pre class="json" tabindex="0" aria-label=${label} data-testid=${testid}><code>${body}</code></pre>`;
}
