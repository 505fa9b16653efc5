// One image, by tag or digest (/api/v1/images/{name}/{reference}). An index shows its platforms
// as a switcher (?platform=<digest>, one more request for the child). An image shows its config
// (entrypoint, env, ports, labels ...), its layers with the history entry that made each, the
// full history, the referrers (signatures, SBOMs, attestations) by artifact type, and the raw
// manifest and config JSON, fetched only when asked for.
import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { request, errorOf } from '../api.js';
import type { ImageBlob, ImageChild, ImageConfig, ImageDetails, Referrer } from '../api-types.js';
import { CopyButton, Digest, ErrorMessage, Loading, PageTitle, Size, Stat, Time, useTitle } from '../components.js';
import { humanSize, isRunnable, platformName, plural, shortDigest } from '../format.js';
import { JsonView } from '../highlight.js';
import { html } from '../html.js';
import { DownloadIcon } from '../icons.js';
import { PullCommands } from '../pull-commands.js';
import { Link } from '../router.js';
import { digestUrl, homeUrl, imageUrl, repositoryUrl, tagUrl } from '../routes.js';
import { useSession } from '../session.js';
import { artifactLabel, isArtifact, kindOf } from '../tag-cells.js';
import { useApi } from '../use-api.js';

function Breadcrumbs({ name }: { name: string }) {
  return html`<nav aria-label="Breadcrumb" class="crumbs">
    <ol>
      <li><${Link} href=${homeUrl()}>Repositories<//></li>
      <li><${Link} href=${repositoryUrl(name)}>${name}<//></li>
    </ol>
  </nav>`;
}

function PlatformSwitcher({ name, reference, children, chosen }: { name: string; reference: string; children: ImageChild[]; chosen?: string }) {
  return html`<nav class="platforms" aria-label="Platforms" data-testid="platform-switcher">
    ${children.map((c) => {
      const current = c.digest === chosen;
      const runnable = isRunnable(c.platform);
      return html`<${Link}
        href=${imageUrl(name, reference, c.digest)}
        class=${`platform${current ? ' current' : ''}${runnable ? '' : ' minor'}`}
        aria-current=${current ? 'page' : undefined}
        data-testid="platform-option"
      >
        <span class="platform-name">${runnable ? platformName(c.platform) : 'attestation'}</span>
        <span class="platform-size">${humanSize(c.totalSize ?? c.size)}</span>
      <//>`;
    })}
  </nav>`;
}

function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return html`<div class="field-row">
    <dt>${label}</dt>
    <dd>${children}</dd>
  </div>`;
}

function CommandLine({ value }: { value?: string[] | null }) {
  if (!value || value.length === 0) return html`<span class="muted">—</span>`;
  return html`<code class="wrap">${JSON.stringify(value)}</code>`;
}

function ConfigSection({ config }: { config: ImageConfig }) {
  const labels = Object.entries(config.labels ?? {});
  return html`<section class="card" aria-labelledby="config-heading" data-testid="image-config">
    <h2 id="config-heading">Configuration</h2>
    <dl class="fields">
      <${Field} label="Created"><${Time} iso=${config.created} /><//>
      ${config.author ? html`<${Field} label="Author">${config.author}<//>` : null}
      <${Field} label="Platform"
        >${platformName({ os: config.os ?? 'unknown', architecture: config.architecture ?? 'unknown', variant: config.variant })}<//
      >
      <${Field} label="Entrypoint"><${CommandLine} value=${config.entrypoint} /><//>
      <${Field} label="Command"><${CommandLine} value=${config.cmd} /><//>
      <${Field} label="Working dir">${config.workingDir ? html`<code>${config.workingDir}</code>` : html`<span class="muted">—</span>`}<//>
      ${config.user ? html`<${Field} label="User"><code>${config.user}</code><//>` : null}
      <${Field} label="Exposed ports">
        ${config.exposedPorts?.length ? html`<span class="chips">${config.exposedPorts.map((p) => html`<span class="chip mono">${p}</span>`)}</span>` : html`<span class="muted">none</span>`}
      <//>
      ${
        config.volumes?.length
          ? html`<${Field} label="Volumes"><span class="chips">${config.volumes.map((v) => html`<span class="chip mono">${v}</span>`)}</span><//>`
          : null
      }
      <${Field} label="Environment">
        ${
          config.env?.length
            ? html`<ul class="plain mono small">
                ${config.env.map((e) => html`<li class="wrap">${e}</li>`)}
              </ul>`
            : html`<span class="muted">none</span>`
        }
      <//>
      <${Field} label="Labels">
        ${
          labels.length
            ? html`<ul class="plain small">
                ${labels.map(([k, v]) => html`<li class="wrap"><span class="mono label-key">${k}</span> <span class="mono">${v}</span></li>`)}
              </ul>`
            : html`<span class="muted">none</span>`
        }
      <//>
    </dl>
  </section>`;
}

function LayersSection({ layers }: { layers: ImageBlob[] }) {
  const total = layers.reduce((sum, l) => sum + l.size, 0);
  return html`<section aria-labelledby="layers-heading" data-testid="image-layers">
    <div class="section-head">
      <h2 id="layers-heading">Layers</h2>
      <span class="muted">${plural(layers.length, 'layer')} · ${humanSize(total)} compressed</span>
    </div>
    <div class="table-wrap">
      <table class="data responsive layers">
        <caption class="visually-hidden">
          Layers, in order
        </caption>
        <thead>
          <tr>
            <th scope="col" class="right">#</th>
            <th scope="col">Created by</th>
            <th scope="col">Digest</th>
            <th scope="col" class="right">Size</th>
          </tr>
        </thead>
        <tbody>
          ${layers.map(
            (l, i) =>
              html`<tr data-testid="layer-row">
                <td data-label="#" class="right muted num">${i + 1}</td>
                <td data-label="Created by" class="created-by wide">
                  ${l.createdBy ? html`<code class="wrap" title=${l.createdBy}>${l.createdBy}</code>` : html`<span class="muted">—</span>`}
                </td>
                <td data-label="Digest"><${Digest} digest=${l.digest} /></td>
                <td data-label="Size" class="right"><${Size} bytes=${l.size} /></td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

function HistorySection({ config }: { config: ImageConfig }) {
  const history = config.history ?? [];
  if (history.length === 0) return null;
  return html`<details class="card" data-testid="image-history">
    <summary>
      <h2>History <span class="muted small">(${history.length} steps)</span></h2>
    </summary>
    <ol class="history">
      ${history.map(
        (h) =>
          html`<li>
            <div class="history-meta">
              <${Time} iso=${h.created ?? null} />
              ${h.emptyLayer ? html`<span class="chip">no layer</span>` : h.layer !== null && h.layer !== undefined ? html`<span class="chip">layer ${h.layer + 1}</span>` : null}
            </div>
            <code class="wrap">${h.createdBy ?? ''}</code>
            ${h.comment ? html`<div class="muted small">${h.comment}</div>` : null}
          </li>`,
      )}
    </ol>
  </details>`;
}

function ReferrersSection({ name, referrers }: { name: string; referrers: Referrer[] }) {
  const groups = new Map<string, Referrer[]>();
  for (const r of referrers) {
    const type = r.artifactType ?? r.mediaType;
    groups.set(type, [...(groups.get(type) ?? []), r]);
  }
  return html`<section class="card" aria-labelledby="referrers-heading" data-testid="image-referrers">
    <h2 id="referrers-heading">Referrers</h2>
    ${
      referrers.length === 0
        ? html`<p class="muted">No signatures, SBOMs or attestations refer to this image.</p>`
        : [...groups.entries()].map(
            ([type, items]) =>
              html`<div class="referrer-group">
                <h3>${artifactLabel(type)} <span class="muted small mono">${type}</span></h3>
                <ul class="plain">
                  ${items.map(
                    (r) =>
                      html`<li class="referrer">
                        <${Digest} digest=${r.digest} href=${digestUrl(name, r.digest)} />
                        <${Size} bytes=${r.size} />
                        ${
                          r.annotations?.['org.opencontainers.image.created']
                            ? html`<${Time} iso=${r.annotations['org.opencontainers.image.created']} />`
                            : null
                        }
                      </li>`,
                  )}
                </ul>
              </div>`,
          )
    }
  </section>`;
}

type RawKind = 'manifest' | 'index' | 'config';

/** Downloads through fetch when the request needs credentials (a plain link would carry none). */
async function download(path: string, filename: string): Promise<void> {
  const res = await request(path);
  if (!res.ok) throw await errorOf(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function RawSection({ name, index, manifest, config }: { name: string; index?: ImageDetails; manifest?: ImageDetails; config?: ImageBlob | null }) {
  const kinds: Array<{ kind: RawKind; label: string; digest: string }> = [];
  if (index) kinds.push({ kind: 'index', label: 'Index', digest: index.digest });
  if (manifest) kinds.push({ kind: 'manifest', label: 'Manifest', digest: manifest.digest });
  if (config) kinds.push({ kind: 'config', label: 'Config', digest: config.digest });
  const [open, setOpen] = useState<RawKind | undefined>();
  const chosen = kinds.find((k) => k.kind === open);
  const path = chosen ? (chosen.kind === 'config' ? `/api/v1/configs/${name}/${chosen.digest}` : `/api/v1/manifests/${name}/${chosen.digest}`) : null;
  const raw = useRawText(path);
  const { session } = useSession();
  const [downloadError, setDownloadError] = useState<Error>();
  const downloadPath = chosen && chosen.kind !== 'config' ? `${path}?download=1` : (path ?? '');
  const filename = chosen ? `${chosen.digest.split(':').pop()}.json` : '';
  const onDownload = (event: MouseEvent) => {
    if (session?.auth === 'none') return;
    event.preventDefault();
    setDownloadError(undefined);
    download(downloadPath, filename).catch((err: Error) => setDownloadError(err));
  };
  return html`<section class="card" aria-labelledby="raw-heading" data-testid="image-raw">
    <div class="card-head">
      <h2 id="raw-heading">Raw JSON</h2>
      <div class="tabs" role="group" aria-label="Document">
        ${kinds.map(
          (k) =>
            html`<button
              type="button"
              class="tab"
              aria-pressed=${k.kind === open}
              onClick=${() => setOpen(k.kind === open ? undefined : k.kind)}
              data-testid=${`raw-${k.kind}`}
            >
              ${k.label}
            </button>`,
        )}
      </div>
    </div>
    ${!chosen ? html`<p class="muted small">Show the ${kinds.map((k) => k.label.toLowerCase()).join(', ')} as stored, highlighted.</p>` : null}
    ${raw.loading ? html`<${Loading} what="Loading" />` : null} ${raw.error ? html`<${ErrorMessage} error=${raw.error} what="document" />` : null}
    ${
      chosen && raw.text !== undefined
        ? html`<div class="raw-actions">
              <span class="muted small mono">${shortDigest(chosen.digest)} · ${humanSize(new TextEncoder().encode(raw.text).length)}</span>
              <${CopyButton} text=${raw.text} label=${`Copy the ${chosen.label.toLowerCase()} JSON`} />
              <a class="button ghost small" href=${downloadPath} download=${filename} onClick=${onDownload} data-testid="raw-download">
                <${DownloadIcon} /> Download
              </a>
            </div>
            ${downloadError ? html`<${ErrorMessage} error=${downloadError} />` : null}
            <${JsonView} text=${raw.text} label=${`${chosen.label} JSON`} testid="raw-json" />`
        : null
    }
  </section>`;
}

/** The text of a document (the API's raw endpoints answer the stored bytes, not an envelope). */
function useRawText(path: string | null): { text?: string; error?: Error; loading: boolean } {
  const { generation } = useSession();
  const [state, setState] = useState<{ path: string | null; text?: string; error?: Error; loading: boolean }>({ path: null, loading: false });
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    setState({ path, loading: true });
    request(path, { signal: controller.signal })
      .then(async (res) => {
        if (!res.ok) throw await errorOf(res);
        const text = await res.text();
        if (!controller.signal.aborted) setState({ path, text, loading: false });
      })
      .catch((error: Error) => {
        if (!controller.signal.aborted) setState({ path, error, loading: false });
      });
    return () => controller.abort();
  }, [path, generation]);
  return state.path === path ? state : { loading: !!path };
}

function ImageBody({ name, image, index }: { name: string; image: ImageDetails; index?: ImageDetails }) {
  const config = image.image;
  return html`
    ${isArtifact(image.artifactType) ? html`<p class="notice">An artifact: <strong>${artifactLabel(image.artifactType)}</strong> <span class="muted mono small">${image.artifactType}</span></p>` : null}
    ${
      image.subject
        ? html`<p class="notice">
            Refers to <${Link} href=${digestUrl(name, image.subject)} class="mono">${shortDigest(image.subject)}<//> (its subject).
          </p>`
        : null
    }
    ${config ? html`<${ConfigSection} config=${config} />` : null}
    ${image.layers.length > 0 ? html`<${LayersSection} layers=${image.layers} />` : null}
    ${config ? html`<${HistorySection} config=${config} />` : null}
    <${ReferrersSection} name=${name} referrers=${[...(index?.referrers ?? []), ...image.referrers]} />
    <${RawSection} name=${name} index=${index} manifest=${image} config=${image.config} />
  `;
}

export function ImagePage({ name, reference, by, query }: { name: string; reference: string; by: 'tag' | 'digest'; query: URLSearchParams }) {
  const title = by === 'tag' ? `${name}:${reference}` : `${name}@${shortDigest(reference)}`;
  useTitle(title);
  const top = useApi<ImageDetails>(`/api/v1/images/${name}/${reference}`);
  const children = top.data?.children ?? [];
  const isIndex = children.length > 0;
  const platform = query.get('platform');
  const chosen = isIndex
    ? (children.find((c) => c.digest === platform) ?? children.find((c) => isRunnable(c.platform)) ?? children[0]).digest
    : undefined;
  const child = useApi<ImageDetails>(chosen ? `/api/v1/images/${name}/${chosen}` : null);
  const image = top.data;

  return html`
    <${Breadcrumbs} name=${name} />
    <${PageTitle} sub=${image ? html`<${Digest} digest=${image.digest} />` : null}>
      ${name}<span class="ref">${by === 'tag' ? `:${reference}` : `@${shortDigest(reference)}`}</span>
    <//>
    ${top.error ? html`<${ErrorMessage} error=${top.error} what=${by === 'tag' ? 'tag' : 'image'} />` : null}
    ${!image && top.loading ? html`<${Loading} what="Loading image" />` : null}
    ${
      image
        ? html`
            <section class="stats compact" aria-label="Image summary">
              <${Stat}
                label="Kind"
                value=${kindOf(image)}
                hint=${isIndex ? plural(children.filter((c) => isRunnable(c.platform)).length, 'platform') : image.platforms.map(platformName).join(', ')}
              />
              <${Stat} label="Size" value=${humanSize(image.size)} hint=${`manifest ${humanSize(image.manifestSize)}`} />
              <${Stat}
                label="Pushed"
                value=${html`<${Time} iso=${image.tag?.pushed ?? image.pushed} />`}
                hint=${image.pushedBy ? `by ${image.pushedBy}` : undefined}
              />
              <${Stat}
                label="Last pull"
                value=${html`<${Time} iso=${image.tag?.lastPulled ?? image.lastPulled} never="never" />`}
                hint=${plural(image.tag?.pulls ?? image.pulls, 'pull')}
              />
            </section>
            ${
              image.tags.length > 0
                ? html`<p class="tag-list">
                    <span class="muted">Tags:</span>
                    ${image.tags.map((t) => html`<${Link} href=${tagUrl(name, t)} class="chip link">${t}<//>`)}
                  </p>`
                : null
            }
            <${PullCommands} name=${name} reference=${by === 'tag' ? reference : image.digest} />
            ${
              isIndex
                ? html`<section aria-labelledby="platforms-heading">
                      <h2 id="platforms-heading">Platforms</h2>
                      <${PlatformSwitcher} name=${name} reference=${reference} children=${children} chosen=${chosen} />
                      ${child.error ? html`<${ErrorMessage} error=${child.error} what="platform image" />` : null}
                      ${!child.data && child.loading ? html`<${Loading} what="Loading the platform's image" />` : null}
                    </section>
                    ${
                      child.data
                        ? html`<div class="child-head">
                              <span class="muted">Showing</span> <strong>${platformName(children.find((c) => c.digest === chosen)?.platform)}</strong>
                              <${Link} href=${digestUrl(name, child.data.digest)} class="mono small">${shortDigest(child.data.digest)}<//>
                            </div>
                            <${ImageBody} name=${name} image=${child.data} index=${image} />`
                        : null
                    }`
                : html`<${ImageBody} name=${name} image=${image} />`
            }
          `
        : null
    }
  `;
}
