// A /ui/ address the router does not know.
import { PageTitle, useTitle } from '../components.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { homeUrl } from '../routes.js';

export function NotFoundPage({ path }: { path: string }) {
  useTitle('Not found');
  return html`<${PageTitle}>Not found<//>
    <p>Nothing here at <code>${path}</code>.</p>
    <p><${Link} href=${homeUrl()}>Back to the repositories<//></p>`;
}
