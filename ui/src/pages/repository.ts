// A repository: its summary (/api/v1/repositories/{name}, with what the caller may do), pull
// commands, and its tags one page at a time (/api/v1/tags/{name}?q=, "More" follows `next`).
// With delete allowed: select tags, confirm, and each goes by DELETE /v2/<name>/manifests/<tag>.
// With push allowed: retag through POST /admin/retag. Two requests to show, whatever the size.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, jsonBody, request, errorOf } from '../api.js';
import type { RepositorySummary, TagSummary, TagsPage } from '../api-types.js';
import { Dialog, Digest, Empty, ErrorMessage, Loading, PageTitle, Size, Stat, Time, useTitle } from '../components.js';
import { humanSize, plural, shortDigest } from '../format.js';
import { html } from '../html.js';
import { LockIcon, SearchIcon, TrashIcon } from '../icons.js';
import { PullCommands } from '../pull-commands.js';
import { Link, navigate } from '../router.js';
import { digestUrl, homeUrl, repositoryUrl, tagUrl } from '../routes.js';
import { Platforms } from '../tag-cells.js';
import { useApi } from '../use-api.js';

const PAGE_SIZE = 100;
const FILTER_DEBOUNCE_MS = 200;
/** Deletes in flight at once: a few, not one per selected tag at the same moment. */
const DELETE_CONCURRENCY = 4;

function tagsPath(name: string, q: string): string {
  const params = new URLSearchParams({ n: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  return `/api/v1/tags/${name}?${params.toString()}`;
}

function Breadcrumbs({ name }: { name: string }) {
  const parts = name.split('/');
  return html`<nav aria-label="Breadcrumb" class="crumbs">
    <ol>
      <li><${Link} href=${homeUrl()}>Repositories<//></li>
      ${parts.length > 1 ? html`<li><${Link} href=${homeUrl({ ns: parts[0] })}>${parts[0]}<//></li>` : null}
    </ol>
  </nav>`;
}

interface Outcome {
  kind: 'ok' | 'error';
  text: string;
}

async function deleteTags(name: string, tags: string[]): Promise<Array<{ tag: string; error?: string }>> {
  const results: Array<{ tag: string; error?: string }> = [];
  const queue = [...tags];
  const worker = async () => {
    for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) {
      try {
        const res = await request(`/v2/${name}/manifests/${encodeURIComponent(tag)}`, { method: 'DELETE' });
        results.push(res.ok ? { tag } : { tag, error: (await errorOf(res)).message });
      } catch (err) {
        results.push({ tag, error: (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, tags.length) }, worker));
  return results;
}

function DeleteDialog({
  name,
  tags,
  open,
  busy,
  onCancel,
  onConfirm,
}: {
  name: string;
  tags: TagSummary[];
  open: boolean;
  busy: boolean;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  return html`<${Dialog} open=${open} title=${`Delete ${plural(tags.length, 'tag')}?`} onClose=${onCancel} testid="delete-dialog">
    <p>These tags will be removed from <strong>${name}</strong>:</p>
    <ul class="dialog-list" data-testid="delete-list">
      ${tags.map((t) => html`<li><code>${t.tag}</code> <span class="muted mono">${shortDigest(t.digest)}</span></li>`)}
    </ul>
    <p class="muted small">
      The images they point at stay, reachable by digest, until garbage collection removes untagged manifests (<code
        >stowage gc --delete-untagged</code
      >). Other tags pointing at the same image are not touched.
    </p>
    <div class="dialog-actions">
      <button type="button" class="button ghost" onClick=${onCancel} disabled=${busy}>Cancel</button>
      <button type="button" class="button danger" onClick=${onConfirm} disabled=${busy} data-testid="confirm-delete">
        ${busy ? 'Deleting…' : `Delete ${plural(tags.length, 'tag')}`}
      </button>
    </div>
  <//>`;
}

function RetagForm({ name, tags, onDone }: { name: string; tags: TagSummary[]; onDone: (outcome: Outcome) => void }) {
  const [source, setSource] = useState('');
  const [destination, setDestination] = useState(`${name}:`);
  const [busy, setBusy] = useState(false);
  // The destination tag points at another image: the registry moves it only when asked to (409).
  const [conflict, setConflict] = useState<{ target: string; current: string } | undefined>();
  const retag = async (force: boolean) => {
    setBusy(true);
    const target = destination.includes(':') ? destination : `${destination}:${source}`;
    try {
      await api(`/admin/retag`, {
        method: 'POST',
        ...jsonBody({ source: `${name}:${source}`, destination: target, ...(force ? { force: true } : {}) }),
      });
      onDone({ kind: 'ok', text: `Tagged ${name}:${source} as ${target}.` });
      setConflict(undefined);
      setSource('');
      setDestination(`${name}:`);
    } catch (err) {
      const current = err instanceof ApiError && err.status === 409 ? (err.detail as { current?: unknown } | undefined)?.current : undefined;
      if (!force && typeof current === 'string') setConflict({ target, current });
      else onDone({ kind: 'error', text: `Retag failed: ${(err as Error).message}` });
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void retag(false);
  };
  return html`<section class="card" aria-labelledby="retag-heading">
    <h2 id="retag-heading">Retag</h2>
    <p class="muted small">Give an image another tag, here or in another repository. Nothing is copied: the registry links what it has.</p>
    <form class="retag" onSubmit=${submit} data-testid="retag-form">
      <div class="field">
        <label for="retag-source">Tag</label>
        <input
          id="retag-source"
          list="retag-tags"
          required
          pattern="[A-Za-z0-9_][A-Za-z0-9_.\\-]{0,127}"
          value=${source}
          onInput=${(e: Event) => setSource((e.target as HTMLInputElement).value)}
          data-testid="retag-source"
          placeholder="latest"
        />
        <datalist id="retag-tags">${tags.slice(0, 100).map((t) => html`<option value=${t.tag} />`)}</datalist>
      </div>
      <span class="retag-arrow" aria-hidden="true">→</span>
      <div class="field grow">
        <label for="retag-destination">New name (repository:tag)</label>
        <input
          id="retag-destination"
          required
          value=${destination}
          onInput=${(e: Event) => setDestination((e.target as HTMLInputElement).value)}
          data-testid="retag-destination"
          spellcheck=${false}
        />
      </div>
      <button type="submit" class="button" disabled=${busy} data-testid="retag-submit">${busy ? 'Retagging…' : 'Retag'}</button>
    </form>
    ${
      conflict &&
      html`<div class="retag-conflict" role="alert" data-testid="retag-conflict">
        <p>
          <strong>${conflict.target}</strong> points at another image (<${Digest} digest=${conflict.current} />). Move the tag to ${name}:${source}?
        </p>
        <button type="button" class="button danger" disabled=${busy} onClick=${() => void retag(true)} data-testid="retag-force">Move the tag</button>
        <button type="button" class="button ghost" onClick=${() => setConflict(undefined)} data-testid="retag-cancel">Cancel</button>
      </div>`
    }
  </section>`;
}

interface MorePages {
  first: string;
  tags: TagSummary[];
  next: string | null;
  loaded: boolean;
}

export function RepositoryPage({ name, query }: { name: string; query: URLSearchParams }) {
  useTitle(name);
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  useEffect(() => {
    if (document.activeElement?.id !== 'tag-filter') setText(q);
  }, [q]);
  useEffect(() => {
    if (text.trim() === q) return;
    const timer = setTimeout(() => navigate(repositoryUrl(name, { q: text.trim() }), { replace: true }), FILTER_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text]);

  const repository = useApi<RepositorySummary>(`/api/v1/repositories/${name}`);
  const first = tagsPath(name, q);
  const firstPage = useApi<TagsPage>(first);

  // Pages after the first, appended by "More".
  const [more, setMore] = useState<MorePages>({ first, tags: [], next: null, loaded: false });
  const extra = more.first === first ? more : { first, tags: [], next: null, loaded: false };
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<Error>();
  const tags = [...(firstPage.data?.tags ?? []), ...extra.tags];
  const next = extra.loaded ? extra.next : (firstPage.data?.next ?? null);
  const loadMore = async () => {
    if (!next) return;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await api<TagsPage>(next);
      setMore({ first, tags: [...extra.tags, ...page.tags], next: page.next, loaded: true });
    } catch (err) {
      setMoreError(err as Error);
    } finally {
      setLoadingMore(false);
    }
  };

  const [selected, setSelected] = useState<Set<string>>(new Set());
  useEffect(() => setSelected(new Set()), [first]);
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();

  const actions = repository.data?.actions;
  const canDelete = !!actions?.delete;
  const canPush = !!actions?.push;
  const selectedTags = tags.filter((t) => selected.has(t.tag));
  const toggle = (tag: string) =>
    setSelected((s) => {
      const copy = new Set(s);
      if (copy.has(tag)) copy.delete(tag);
      else copy.add(tag);
      return copy;
    });
  // An immutable tag (stowage.immutable) cannot be deleted: it is never offered for selection.
  const deletable = tags.filter((t) => !t.immutable);
  const allSelected = deletable.length > 0 && deletable.every((t) => selected.has(t.tag));
  const toggleAll = () => setSelected(allSelected ? new Set() : new Set(deletable.map((t) => t.tag)));

  const refresh = () => {
    setMore({ first, tags: [], next: null, loaded: false });
    firstPage.reload();
    repository.reload();
  };

  const confirmDelete = async () => {
    setDeleting(true);
    const results = await deleteTags(
      name,
      selectedTags.map((t) => t.tag),
    );
    const failed = results.filter((r) => r.error);
    const done = results.length - failed.length;
    setOutcome(
      failed.length === 0
        ? { kind: 'ok', text: `Deleted ${plural(done, 'tag')}.` }
        : { kind: 'error', text: `Deleted ${done} of ${results.length}. ${failed.map((f) => `${f.tag}: ${f.error}`).join('; ')}` },
    );
    setDeleting(false);
    setConfirming(false);
    setSelected(new Set(failed.map((f) => f.tag)));
    refresh();
  };

  const pullReference = tags.find((t) => t.tag === 'latest')?.tag ?? tags[0]?.tag ?? 'latest';
  const r = repository.data;

  return html`
    <${Breadcrumbs} name=${name} />
    <${PageTitle}>${name}<//>
    ${repository.error ? html`<${ErrorMessage} error=${repository.error} />` : null}
    ${
      r
        ? html`<section class="stats compact" aria-label="Repository summary">
            <${Stat} label="Tags" value=${r.tags.toLocaleString('en')} />
            <${Stat} label="Size" value=${humanSize(r.size)} hint=${plural(r.manifests, 'manifest')} />
            <${Stat} label="Last push" value=${html`<${Time} iso=${r.lastPushed} never="never" />`} />
            <${Stat} label="Last pull" value=${html`<${Time} iso=${r.lastPulled} never="never" />`} />
          </section>`
        : null
    }
    ${!repository.error ? html`<${PullCommands} name=${name} reference=${pullReference} />` : null}
    <div class="status-line" aria-live="polite" data-testid="action-status">
      ${outcome ? html`<span class=${outcome.kind === 'ok' ? 'good' : 'bad'}>${outcome.text}</span>` : null}
    </div>
    <section aria-labelledby="tags-heading">
      <div class="section-head">
        <h2 id="tags-heading">Tags</h2>
        <div class="toolbar">
          <div class="search">
            <label for="tag-filter" class="visually-hidden">Filter tags</label>
            <span class="search-icon" aria-hidden="true"><${SearchIcon} /></span>
            <input
              id="tag-filter"
              type="search"
              placeholder="Filter tags"
              autocomplete="off"
              spellcheck=${false}
              value=${text}
              onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)}
              onKeyDown=${(e: KeyboardEvent) => e.key === 'Escape' && text && setText('')}
              data-search
              data-testid="tag-filter"
            />
          </div>
          ${
            canDelete
              ? html`<button
                  type="button"
                  class="button danger"
                  disabled=${selectedTags.length === 0}
                  onClick=${() => setConfirming(true)}
                  data-testid="delete-selected"
                >
                  <${TrashIcon} /> Delete selected${selectedTags.length ? ` (${selectedTags.length})` : ''}
                </button>`
              : null
          }
        </div>
      </div>
      ${firstPage.error && !repository.error ? html`<${ErrorMessage} error=${firstPage.error} />` : null}
      ${!firstPage.data && firstPage.loading ? html`<${Loading} what="Loading tags" />` : null}
      ${
        firstPage.data && tags.length === 0
          ? html`<${Empty}>${q ? html`No tag matches “<strong>${q}</strong>”.` : 'This repository has no tags.'}<//>`
          : null
      }
      ${
        tags.length > 0
          ? html`<div class="table-wrap">
              <table class="data responsive" data-testid="tag-table">
                <caption class="visually-hidden">
                  Tags of ${name}
                </caption>
                <thead>
                  <tr>
                    ${
                      canDelete
                        ? html`<th scope="col" class="check">
                            <input
                              type="checkbox"
                              aria-label="Select all tags shown"
                              checked=${allSelected}
                              onChange=${toggleAll}
                              data-testid="select-all"
                            />
                          </th>`
                        : null
                    }
                    <th scope="col">Tag</th>
                    <th scope="col">Digest</th>
                    <th scope="col">Platforms</th>
                    <th scope="col" class="right">Size</th>
                    <th scope="col" class="right">Pushed</th>
                    <th scope="col" class="right">Last pull</th>
                  </tr>
                </thead>
                <tbody class=${firstPage.loading ? 'stale' : ''}>
                  ${tags.map(
                    (t) =>
                      html`<tr key=${t.tag} data-testid="tag-row" data-tag=${t.tag} class=${selected.has(t.tag) ? 'selected' : ''}>
                        ${
                          canDelete && t.immutable
                            ? html`<td class="check" title="Immutable tag: it cannot be deleted" data-testid="tag-immutable">
                                <span class="visually-hidden">Immutable</span><${LockIcon} />
                              </td>`
                            : canDelete
                              ? html`<td class="check">
                                  <input
                                    type="checkbox"
                                    aria-label=${`Select ${t.tag}`}
                                    checked=${selected.has(t.tag)}
                                    onChange=${() => toggle(t.tag)}
                                    data-testid="tag-select"
                                  />
                                </td>`
                              : null
                        }
                        <td data-label="Tag" class="primary">
                          <${Link} href=${tagUrl(name, t.tag)} class="tag-link"><strong>${t.tag}</strong><//>
                        </td>
                        <td data-label="Digest"><${Digest} digest=${t.digest} href=${digestUrl(name, t.digest)} /></td>
                        <td data-label="Platforms" class="wide"><${Platforms} platforms=${t.platforms} artifactType=${t.artifactType} /></td>
                        <td data-label="Size" class="right"><${Size} bytes=${t.size} /></td>
                        <td data-label="Pushed" class="right"><${Time} iso=${t.pushed} /></td>
                        <td data-label="Last pull" class="right">
                          <span
                            ><${Time}
                              iso=${t.lastPulled}
                              never="never"
                            />${t.pulls ? html` <span class="muted small" title="pulls through this tag">(${t.pulls})</span>` : null}</span
                          >
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
          : null
      }
      ${moreError ? html`<${ErrorMessage} error=${moreError} />` : null}
      ${
        next
          ? html`<div class="more">
              <button type="button" class="button ghost" onClick=${loadMore} disabled=${loadingMore} data-testid="more-tags">
                ${loadingMore ? 'Loading…' : `More tags (showing ${tags.length.toLocaleString('en')}${r ? ` of ${r.tags.toLocaleString('en')}` : ''})`}
              </button>
            </div>`
          : null
      }
    </section>
    ${canPush && r ? html`<${RetagForm} name=${name} tags=${tags} onDone=${(o: Outcome) => (setOutcome(o), o.kind === 'ok' && refresh())} />` : null}
    ${
      canDelete
        ? html`<${DeleteDialog}
            name=${name}
            tags=${selectedTags}
            open=${confirming}
            busy=${deleting}
            onCancel=${() => !deleting && setConfirming(false)}
            onConfirm=${confirmDelete}
          />`
        : null
    }
  `;
}
