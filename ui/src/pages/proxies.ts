// Proxies: each upstream of the pull-through cache (/api/v1/proxies) with its state and counters
// since start, and on request what it has cached (/api/v1/proxies/{index}/repositories, paged).
import { useState } from 'preact/hooks';
import type { Proxies, ProxyUpstream, RepositoriesPage } from '../api-types.js';
import { Empty, ErrorMessage, Loading, PageTitle, Size, Time, useTitle } from '../components.js';
import { humanSize } from '../format.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { repositoryUrl } from '../routes.js';
import { useApi } from '../use-api.js';

const PAGE_SIZE = 50;

function count(value: number | undefined): string {
  return value === undefined ? '—' : value.toLocaleString('en');
}

function hitRate(u: ProxyUpstream): string {
  const total = (u.hits ?? 0) + (u.misses ?? 0);
  return total === 0 ? '—' : `${Math.round(((u.hits ?? 0) / total) * 100)}%`;
}

function Cached({ index }: { index: number }) {
  const first = `/api/v1/proxies/${index}/repositories?n=${PAGE_SIZE}`;
  const [stack, setStack] = useState([first]);
  const page = useApi<RepositoriesPage>(stack[stack.length - 1]);
  const rows = page.data?.repositories ?? [];
  return html`<div class="cached" data-testid="proxy-cached">
    ${page.error ? html`<${ErrorMessage} error=${page.error} />` : null}
    ${!page.data && page.loading ? html`<${Loading} what="Loading cached repositories" />` : null}
    ${page.data && rows.length === 0 ? html`<p class="muted">Nothing cached yet.</p>` : null}
    ${
      rows.length > 0
        ? html`<table class="data responsive">
            <caption class="visually-hidden">
              Cached repositories
            </caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col" class="right">Tags</th>
                <th scope="col" class="right">Size</th>
                <th scope="col" class="right">Last pull</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (r) =>
                  html`<tr data-testid="cached-row">
                    <td data-label="Repository" class="primary"><${Link} href=${repositoryUrl(r.name)}>${r.name}<//></td>
                    <td data-label="Tags" class="right num">${r.tags}</td>
                    <td data-label="Size" class="right"><${Size} bytes=${r.size} /></td>
                    <td data-label="Last pull" class="right"><${Time} iso=${r.lastPulled} never="never" /></td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : null
    }
    ${
      stack.length > 1 || page.data?.next
        ? html`<nav class="pager" aria-label="Cached repository pages">
            <button type="button" class="button ghost" disabled=${stack.length <= 1} onClick=${() => setStack(stack.slice(0, -1))}>← Previous</button>
            <button
              type="button"
              class="button ghost"
              disabled=${!page.data?.next}
              onClick=${() => page.data?.next && setStack([...stack, page.data.next])}
            >
              Next →
            </button>
          </nav>`
        : null
    }
  </div>`;
}

function UpstreamCard({ upstream: u, index }: { upstream: ProxyUpstream; index: number }) {
  const [open, setOpen] = useState(false);
  const online = u.online !== false;
  return html`<section class="card upstream" aria-labelledby=${`upstream-${index}`} data-testid="proxy-row">
    <div class="card-head">
      <h2 id=${`upstream-${index}`}>
        <span class=${`dot ${online ? 'on' : 'off'}`} aria-hidden="true"></span>
        ${u.prefix ? html`<code>${u.prefix}/</code>` : 'All names'}
        <span class="muted small"> → </span><span class="mono small">${u.remoteurl}</span>
      </h2>
      <span class=${`badge ${online ? 'good' : 'bad'}`}>${u.online === undefined ? 'configured' : online ? 'online' : 'offline'}</span>
    </div>
    <dl class="kv">
      <div>
        <dt>Hits</dt>
        <dd class="num">${count(u.hits)}</dd>
      </div>
      <div>
        <dt>Misses</dt>
        <dd class="num">${count(u.misses)}</dd>
      </div>
      <div>
        <dt>Hit rate</dt>
        <dd class="num">${hitRate(u)}</dd>
      </div>
      <div>
        <dt>Errors</dt>
        <dd class=${`num${u.errors ? ' bad' : ''}`}>${count(u.errors)}</dd>
      </div>
      <div>
        <dt>Fetched</dt>
        <dd class="num">${u.bytesFetched === undefined ? '—' : humanSize(u.bytesFetched)}</dd>
      </div>
      <div>
        <dt>Cached repositories</dt>
        <dd class="num">${count(u.repositories)}</dd>
      </div>
    </dl>
    <button type="button" class="button ghost small" aria-expanded=${open} onClick=${() => setOpen(!open)} data-testid="proxy-show-cached">
      ${open ? 'Hide cached repositories' : 'Show cached repositories'}
    </button>
    ${open ? html`<${Cached} index=${index} />` : null}
  </section>`;
}

export function ProxiesPage() {
  useTitle('Proxies');
  const proxies = useApi<Proxies>('/api/v1/proxies', { optional: true });
  const upstreams = proxies.data?.upstreams ?? [];
  return html`
    <${PageTitle} sub="Upstream registries this one pulls through and caches. Counters run since the registry started.">Proxies<//>
    ${proxies.error ? html`<${ErrorMessage} error=${proxies.error} />` : null}
    ${proxies.loading && !proxies.data ? html`<${Loading} what="Loading upstreams" />` : null}
    ${proxies.missing ? html`<${Empty}>This registry does not report its proxies (no <code>/api/v1/proxies</code>).<//>` : null}
    ${
      proxies.data && upstreams.length === 0
        ? html`<${Empty}>
            <strong>No upstream registries.</strong> This registry serves what is pushed to it. Add <code>proxy.remoteurl</code> or
            <code>stowage.proxies</code> to the configuration to cache Docker Hub or another registry.
          <//>`
        : null
    }
    <div class="stack">${upstreams.map((u, i) => html`<${UpstreamCard} upstream=${u} index=${i} />`)}</div>
  `;
}
