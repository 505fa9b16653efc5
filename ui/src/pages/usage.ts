// Usage: what the storage holds (/api/v1/usage): stored against logical bytes, the biggest
// namespaces and repositories, and what garbage collection would free (estimated).
import type { Usage } from '../api-types.js';
import { Empty, ErrorMessage, Loading, PageTitle, Stat, useTitle } from '../components.js';
import { humanSize, plural, ratio } from '../format.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { homeUrl, repositoryUrl } from '../routes.js';
import { useApi } from '../use-api.js';

function Bars({ title, rows, testid }: { title: string; rows: Array<{ name: string; size: number; href: string; note: string }>; testid: string }) {
  const max = Math.max(1, ...rows.map((r) => r.size));
  return html`<section class="card" aria-label=${title} data-testid=${testid}>
    <h2>${title}</h2>
    ${
      rows.length === 0
        ? html`<p class="muted">Nothing stored yet.</p>`
        : html`<table class="bars">
            <caption class="visually-hidden">
              ${title}
            </caption>
            <thead class="visually-hidden">
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (r) =>
                  html`<tr>
                    <th scope="row">
                      <${Link} href=${r.href}>${r.name}<//>
                      <span class="muted small"> ${r.note}</span>
                    </th>
                    <td>
                      <span class="bar" aria-hidden="true"><span style=${{ width: `${Math.max(1, (r.size / max) * 100)}%` }}></span></span>
                      <span class="num">${humanSize(r.size)}</span>
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}

export function UsagePage() {
  useTitle('Usage');
  const usage = useApi<Usage>('/api/v1/usage', { optional: true });
  const u = usage.data;
  const reclaim = u?.reclaimable;
  return html`
    <${PageTitle} sub="Storage by namespace and repository, and what garbage collection would free.">Usage<//>
    ${usage.error ? html`<${ErrorMessage} error=${usage.error} />` : null} ${usage.loading && !u ? html`<${Loading} what="Loading usage" />` : null}
    ${usage.missing ? html`<${Empty}>This registry does not report usage (no <code>/api/v1/usage</code>).<//>` : null}
    ${
      u
        ? html`
            <section class="stats" aria-label="Storage totals" data-testid="usage-totals">
              <${Stat} label="Stored" value=${humanSize(u.storedBytes)} hint="distinct blobs and manifests" />
              <${Stat} label="Logical" value=${humanSize(u.logicalBytes)} hint="sum of repository sizes" />
              <${Stat} label="Deduplication" value=${ratio(u.storedBytes > 0 ? u.logicalBytes / u.storedBytes : 1)} />
              ${
                reclaim
                  ? html`<${Stat}
                      label="GC would free"
                      value=${`${reclaim.estimated ? '≈ ' : ''}${humanSize(reclaim.untaggedBytes + reclaim.unreferencedBytes)}`}
                      hint=${`${plural(reclaim.untaggedManifests, 'untagged manifest')}, ${plural(reclaim.unreferencedBlobs, 'unreferenced blob')}`}
                      testid="usage-reclaimable"
                    />`
                  : null
              }
            </section>
            ${
              reclaim
                ? html`<p class="muted small">
                    Untagged manifests: ${humanSize(reclaim.untaggedBytes)} (freed by <code>stowage gc --delete-untagged</code>); blobs no manifest
                    uses: ${humanSize(reclaim.unreferencedBytes)} (freed by
                    <code>stowage gc</code>).${reclaim.estimated ? ' Estimated from the metadata database.' : ''}
                  </p>`
                : null
            }
            <div class="two-columns">
              <${Bars}
                title="Largest namespaces"
                testid="usage-namespaces"
                rows=${u.namespaces.map((n) => ({ name: n.name, size: n.size, href: homeUrl({ ns: n.name }), note: plural(n.repositories, 'repository', 'repositories') }))}
              />
              <${Bars}
                title="Largest repositories"
                testid="usage-repositories"
                rows=${u.repositories.map((r) => ({ name: r.name, size: r.size, href: repositoryUrl(r.name), note: plural(r.tags, 'tag') }))}
              />
            </div>
          `
        : null
    }
  `;
}
