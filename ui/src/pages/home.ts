// Home: registry totals (/api/v1/stats), repositories as you type (/api/v1/repositories?q=),
// sortable and paged by the API's `next` links, a namespace filter (/api/v1/namespaces), and how
// to push and pull here. Four requests whatever the registry holds.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Namespace, RepositoriesPage, RepositorySummary, Stats } from '../api-types.js';
import { Empty, ErrorMessage, Loading, PageTitle, Size, Snippet, Stat, Time, useTitle } from '../components.js';
import { humanSize, plural, ratio } from '../format.js';
import { html } from '../html.js';
import { SearchIcon } from '../icons.js';
import { takeSearchFocus } from '../keyboard.js';
import { registryHost } from '../pull-commands.js';
import { Link, navigate } from '../router.js';
import { homeUrl, pageUrl, repositoryUrl } from '../routes.js';
import { useApi } from '../use-api.js';

const PAGE_SIZE = 50;
const SEARCH_DEBOUNCE_MS = 200;

const COLUMNS = [
  { key: 'name', label: 'Repository', first: 'asc' },
  { key: 'tags', label: 'Tags', first: 'desc' },
  { key: 'size', label: 'Size', first: 'desc' },
  { key: 'pushed', label: 'Last push', first: 'desc' },
  { key: 'pulled', label: 'Last pull', first: 'desc' },
] as const;
type SortKey = (typeof COLUMNS)[number]['key'];

/** On a phone the table's headers are hidden: the sort is a select. */
const SORT_CHOICES: Array<{ sort: SortKey; order: string; label: string }> = [
  { sort: 'name', order: 'asc', label: 'Name' },
  { sort: 'size', order: 'desc', label: 'Largest' },
  { sort: 'tags', order: 'desc', label: 'Most tags' },
  { sort: 'pushed', order: 'desc', label: 'Recently pushed' },
  { sort: 'pulled', order: 'desc', label: 'Recently pulled' },
];

function repositoriesPath(q: string, ns: string, sort: SortKey, order: string): string {
  const params = new URLSearchParams({ n: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  if (ns) params.set('namespace', ns);
  if (sort !== 'name' || order !== 'asc') {
    params.set('sort', sort);
    params.set('order', order);
  }
  return `/api/v1/repositories?${params.toString()}`;
}

/** The name with what the search matched marked (text nodes and <mark>, never HTML). */
function Highlighted({ text, match }: { text: string; match: string }) {
  const at = match ? text.indexOf(match) : -1;
  if (at < 0) return text;
  return html`${text.slice(0, at)}<mark>${text.slice(at, at + match.length)}</mark>${text.slice(at + match.length)}`;
}

function RepositoryName({ name, match }: { name: string; match: string }) {
  const slash = name.lastIndexOf('/');
  return html`<${Link} href=${repositoryUrl(name)} class="repo-link">
    ${slash >= 0 ? html`<span class="muted">${name.slice(0, slash + 1)}</span>` : null}<strong
      ><${Highlighted} text=${name.slice(slash + 1)} match=${match}
    /></strong>
  <//>`;
}

function Totals({ stats }: { stats: Stats }) {
  const online = stats.upstreams.filter((u) => u.online !== false).length;
  const offline = stats.upstreams.length - online;
  return html`<section class="stats" aria-label="Registry totals" data-testid="totals">
    <${Stat} label="Repositories" value=${stats.repositories.toLocaleString('en')} hint=${plural(stats.tags, 'tag')} testid="total-repositories" />
    <${Stat} label="Storage used" value=${humanSize(stats.storedBytes)} hint=${`${humanSize(stats.logicalBytes)} before deduplication`} />
    <${Stat} label="Deduplication" value=${ratio(stats.dedupRatio)} hint=${plural(stats.manifests, 'manifest')} />
    <${Stat}
      label="Upstreams"
      value=${stats.upstreams.length ? html`${online}<span class="stat-of"> online</span>` : '0'}
      hint=${
        stats.upstreams.length
          ? html`${offline ? html`<span class="bad">${offline} offline</span> · ` : null}<${Link} href=${pageUrl.proxies}>Proxies<//>`
          : 'No pull-through proxy'
      }
    />
  </section>`;
}

function PushPull({ open }: { open: boolean }) {
  const host = registryHost();
  return html`<details class="card howto" open=${open}>
    <summary><h2>Push and pull</h2></summary>
    <${Snippet}
      label="Push and pull commands"
      text=${`docker tag alpine ${host}/alpine:latest\ndocker push ${host}/alpine:latest\ndocker pull ${host}/alpine:latest`}
    />
    <p class="muted small">
      Use the host name you reached this page with. A registry served over plain HTTP needs
      <code>insecure-registries</code> in Docker's <code>daemon.json</code> (localhost excepted).
    </p>
  </details>`;
}

function SortHeader({
  column,
  sort,
  order,
  onSort,
}: {
  column: (typeof COLUMNS)[number];
  sort: SortKey;
  order: string;
  onSort: (key: SortKey) => void;
}) {
  const active = column.key === sort;
  const ariaSort = active ? (order === 'asc' ? 'ascending' : 'descending') : undefined;
  return html`<th scope="col" aria-sort=${ariaSort} class=${column.key === 'name' ? '' : 'right'}>
    <button type="button" class=${active ? 'sort active' : 'sort'} onClick=${() => onSort(column.key)} data-testid=${`sort-${column.key}`}>
      ${column.label}<span class="sort-mark" aria-hidden="true">${active ? (order === 'asc' ? '▲' : '▼') : '↕'}</span>
    </button>
  </th>`;
}

function RepositoryRow({ repository: r, match }: { repository: RepositorySummary; match: string }) {
  return html`<tr data-testid="repository-row" data-name=${r.name}>
    <td data-label="Repository" class="primary"><${RepositoryName} name=${r.name} match=${match} /></td>
    <td data-label="Tags" class="right num">${r.tags.toLocaleString('en')}</td>
    <td data-label="Size" class="right"><${Size} bytes=${r.size} /></td>
    <td data-label="Last push" class="right"><${Time} iso=${r.lastPushed} never="never" /></td>
    <td data-label="Last pull" class="right"><${Time} iso=${r.lastPulled} never="never" /></td>
  </tr>`;
}

export function HomePage({ query }: { query: URLSearchParams }) {
  useTitle('Repositories');
  const q = query.get('q') ?? '';
  const ns = query.get('ns') ?? '';
  const sortParam = query.get('sort');
  const sort: SortKey = COLUMNS.some((c) => c.key === sortParam) ? (sortParam as SortKey) : 'name';
  const order = query.get('order') === 'desc' || query.get('order') === 'asc' ? query.get('order')! : COLUMNS.find((c) => c.key === sort)!.first;

  const [text, setText] = useState(q);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (takeSearchFocus()) input.current?.focus();
  }, []);
  // Back and forward change the URL under the box: follow it unless the user is typing.
  useEffect(() => {
    if (document.activeElement !== input.current) setText(q);
  }, [q]);
  useEffect(() => {
    if (text.trim() === q) return;
    const timer = setTimeout(
      () => navigate(homeUrl({ q: text.trim(), ns, sort: sortParam ?? undefined, order: query.get('order') ?? undefined }), { replace: true }),
      SEARCH_DEBOUNCE_MS,
    );
    return () => clearTimeout(timer);
  }, [text]);

  // The pages walked so far (each the URL the API gave as `next`), so "Previous" can go back.
  const first = repositoriesPath(q, ns, sort, order);
  const [paging, setPaging] = useState({ first, stack: [first] });
  const stack = paging.first === first ? paging.stack : [first];
  const current = stack[stack.length - 1];

  const list = useApi<RepositoriesPage>(current);
  const stats = useApi<Stats>('/api/v1/stats', { optional: true });
  const namespaces = useApi<{ namespaces: Namespace[] }>('/api/v1/namespaces', { optional: true });

  const onSort = (key: SortKey) => {
    const column = COLUMNS.find((c) => c.key === key)!;
    const nextOrder = key === sort ? (order === 'asc' ? 'desc' : 'asc') : column.first;
    navigate(homeUrl({ q, ns, sort: key, order: nextOrder }));
  };
  const onSortSelect = (event: Event) => {
    const [key, direction] = (event.target as HTMLSelectElement).value.split(':');
    navigate(homeUrl({ q, ns, sort: key, order: direction }));
  };
  const onNamespace = (event: Event) =>
    navigate(homeUrl({ q, ns: (event.target as HTMLSelectElement).value, sort: sortParam ?? undefined, order: query.get('order') ?? undefined }));
  const onSearchKey = (event: KeyboardEvent) => {
    const rows = list.data?.repositories ?? [];
    if (event.key === 'Enter' && rows.length > 0) {
      event.preventDefault();
      // Enter opens the exact match, else the first result.
      const exact = rows.find((r) => r.name === text.trim());
      navigate(repositoryUrl((exact ?? rows[0]).name));
    } else if (event.key === 'ArrowDown') {
      const link = document.querySelector<HTMLElement>('[data-testid="repository-row"] a');
      if (link) {
        event.preventDefault();
        link.focus();
      }
    } else if (event.key === 'Escape' && text) {
      setText('');
    }
  };

  const repositories = list.data?.repositories ?? [];
  const filtered = !!(q || ns);
  const emptyRegistry = !filtered && stack.length === 1 && list.data !== undefined && repositories.length === 0;
  const namespaceList = namespaces.data?.namespaces ?? [];

  return html`
    <${PageTitle} sub=${html`A private OCI registry at <code>${registryHost()}</code>`}>Repositories<//>
    ${stats.data ? html`<${Totals} stats=${stats.data} />` : null}
    <div class="toolbar" role="search">
      <div class="search">
        <label for="repository-search" class="visually-hidden">Search repositories</label>
        <span class="search-icon" aria-hidden="true"><${SearchIcon} /></span>
        <input
          id="repository-search"
          ref=${input}
          type="search"
          placeholder="Search repositories"
          autocomplete="off"
          spellcheck=${false}
          value=${text}
          onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)}
          onKeyDown=${onSearchKey}
          data-search
          data-testid="search"
          aria-describedby="search-hint"
        />
        <kbd class="search-kbd" aria-hidden="true">/</kbd>
      </div>
      <span id="search-hint" class="visually-hidden">Press Enter to open the first result, Arrow Down to move to the list.</span>
      <div class="field-inline mobile-only">
        <label for="sort-select">Sort</label>
        <select id="sort-select" value=${`${sort}:${order}`} onChange=${onSortSelect}>
          ${SORT_CHOICES.map((c) => html`<option value=${`${c.sort}:${c.order}`}>${c.label}</option>`)}
          ${SORT_CHOICES.some((c) => c.sort === sort && c.order === order) ? null : html`<option value=${`${sort}:${order}`}>${sort} (${order})</option>`}
        </select>
      </div>
      ${
        namespaceList.length > 0
          ? html`<div class="field-inline">
              <label for="namespace-filter">Namespace</label>
              <select id="namespace-filter" value=${ns} onChange=${onNamespace} data-testid="namespace-filter">
                <option value="">All</option>
                ${namespaceList.map((n) => html`<option value=${n.name}>${n.name} (${n.repositories})</option>`)}
                ${ns && !namespaceList.some((n) => n.name === ns) ? html`<option value=${ns}>${ns}</option>` : null}
              </select>
            </div>`
          : null
      }
    </div>
    <div class="status-line" aria-live="polite" data-testid="list-status">
      ${list.loading ? html`<span class="spinner" aria-hidden="true"></span> Searching…` : list.data ? (filtered ? `${plural(repositories.length, 'repository', 'repositories')}${list.data.next ? '+' : ''} match` : '') : ''}
    </div>
    ${list.error ? html`<${ErrorMessage} error=${list.error} />` : null}
    ${!list.data && list.loading ? html`<${Loading} what="Loading repositories" />` : null}
    ${
      emptyRegistry
        ? html`<${Empty}><strong>Nothing here yet.</strong> Push an image and it shows up here.<//>`
        : list.data && repositories.length === 0
          ? html`<${Empty}>No repository matches${q ? html` “<strong>${q}</strong>”` : null}${ns ? html` in <strong>${ns}</strong>` : null}.<//>`
          : null
    }
    ${
      repositories.length > 0
        ? html`<div class="table-wrap">
            <table class="data responsive" data-testid="repository-table">
              <caption class="visually-hidden">
                Repositories, sorted by ${sort} ${order === 'asc' ? 'ascending' : 'descending'}
              </caption>
              <thead>
                <tr>
                  ${COLUMNS.map((c) => html`<${SortHeader} column=${c} sort=${sort} order=${order} onSort=${onSort} />`)}
                </tr>
              </thead>
              <tbody class=${list.loading ? 'stale' : ''}>
                ${repositories.map((r) => html`<${RepositoryRow} key=${r.name} repository=${r} match=${q} />`)}
              </tbody>
            </table>
          </div>`
        : null
    }
    ${
      stack.length > 1 || list.data?.next
        ? html`<nav class="pager" aria-label="Pages">
            <button
              type="button"
              class="button ghost"
              disabled=${stack.length <= 1}
              onClick=${() => setPaging({ first, stack: stack.slice(0, -1) })}
              data-testid="previous-page"
            >
              ← Previous
            </button>
            <span class="muted">Page ${stack.length}</span>
            <button
              type="button"
              class="button ghost"
              disabled=${!list.data?.next}
              onClick=${() => list.data?.next && setPaging({ first, stack: [...stack, list.data.next] })}
              data-testid="next-page"
            >
              Next →
            </button>
          </nav>`
        : null
    }
    <${PushPull} open=${emptyRegistry} />
  `;
}
