// The page a person sees at GET /: what this registry is, what it holds and how to use it.
// Everything interpolated is escaped (the Host header is the client's to choose).

export interface RegistryStatus {
  name: string;
  version: string;
  storage: string;
  deleteEnabled: boolean;
  readOnly: boolean;
  upstreams: Array<{ prefix: string; remoteurl: string }>;
  /** The first page of repositories, each with its first tags and how many it has. */
  repositories: Array<{ name: string; tags: string[]; tagCount: number }>;
  repositoryCount: number;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f7f7f5;--fg:#1d1f21;--muted:#6b7076;--card:#fff;--line:#e3e3df;--accent:#0b6e4f}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e8e8e6;--muted:#9aa0a6;--card:#1d2024;--line:#2c3036;--accent:#4cc38a}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:960px;margin:0 auto;padding:32px 20px}
header{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap}h1{margin:0;font-size:28px}
.version{color:var(--muted)}.ok{color:var(--accent);font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin:24px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:13px}
h2{font-size:18px;margin:28px 0 10px}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid var(--line);vertical-align:top}th{font-size:13px;color:var(--muted);font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;overflow-x:auto}
.tag{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px}
.muted{color:var(--muted)}footer{margin-top:32px;color:var(--muted);font-size:13px}`;

export function renderStatusPage(status: RegistryStatus, host: string): string {
  const h = escapeHtml;
  const hostName = h(host || 'localhost:5000');
  const upstreams = status.upstreams.length
    ? `<table><tr><th>Namespace</th><th>Upstream</th></tr>${status.upstreams
        .map((u) => `<tr><td><code>${h(u.prefix ? `${u.prefix}/` : '(all names)')}</code></td><td><code>${h(u.remoteurl)}</code></td></tr>`)
        .join('')}</table>`
    : '<p class="muted">No upstream registries: this registry serves what is pushed to it.</p>';
  const shown = status.repositories;
  const repositories = shown.length
    ? `<table><tr><th>Repository</th><th>Tags</th></tr>${shown
        .map((r) => {
          const tags = r.tags
            .slice(0, 12)
            .map((t) => `<span class="tag">${h(t)}</span>`)
            .join('');
          const more = r.tagCount > 12 ? ` <span class="muted">+${r.tagCount - 12} more</span>` : '';
          return `<tr><td><code>${h(r.name)}</code></td><td>${tags || '<span class="muted">untagged</span>'}${more}</td></tr>`;
        })
        .join(
          '',
        )}</table>${status.repositoryCount > shown.length ? `<p class="muted">Showing ${shown.length} of ${status.repositoryCount}.</p>` : ''}`
    : '<p class="muted">Nothing here yet. Push something:</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${h(status.name)} registry</title><style>${STYLE}</style></head>
<body><main>
<header><h1>${h(status.name)}</h1><span class="version">v${h(status.version)}</span><span class="ok">● serving</span></header>
<p class="muted">A private OCI container image registry at <code>${hostName}</code>.</p>
<section class="grid">
<div class="card"><b>${status.repositoryCount}</b><span>repositories</span></div>
<div class="card"><b>${h(status.storage)}</b><span>storage</span></div>
<div class="card"><b>${status.upstreams.length}</b><span>upstream registries</span></div>
<div class="card"><b>${status.readOnly ? 'read-only' : status.deleteEnabled ? 'read, write, delete' : 'read, write'}</b><span>mode</span></div>
</section>
<h2>Use it</h2>
<pre>docker tag busybox ${hostName}/busybox
docker push ${hostName}/busybox
docker pull ${hostName}/busybox</pre>
<h2>Repositories</h2>${repositories}
<h2>Upstreams</h2>${upstreams}
<footer>API: <code>/v2/</code> · health: <code>/healthz</code>, <code>/readyz</code> · metrics: <code>/metrics</code></footer>
</main></body></html>`;
}
