// Pull commands for the clients people use, with the host name the browser used (what the
// registry is known as from here). On plain HTTP the clients that insist on TLS get their flag.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { Snippet } from './components.js';

export const CLIENTS = ['docker', 'podman', 'skopeo', 'ctr', 'nerdctl'] as const;
export type Client = (typeof CLIENTS)[number];

export function registryHost(): string {
  return window.location.host;
}

/** name:tag or name@digest under this registry's host. */
export function imageReference(name: string, reference: string): string {
  return `${registryHost()}/${name}${reference.includes(':') ? '@' : ':'}${reference}`;
}

export function pullCommand(client: Client, name: string, reference: string): string {
  const image = imageReference(name, reference);
  const plain = window.location.protocol === 'http:';
  const last = name.split('/').pop() ?? name;
  const archive = `${last}-${reference.includes(':') ? reference.split(':')[1].slice(0, 12) : reference}.tar`;
  switch (client) {
    case 'docker':
      return `docker pull ${image}`;
    case 'podman':
      return `podman pull ${plain ? '--tls-verify=false ' : ''}${image}`;
    case 'skopeo':
      return `skopeo copy ${plain ? '--src-tls-verify=false ' : ''}docker://${image} oci-archive:${archive}`;
    case 'ctr':
      return `ctr images pull ${plain ? '--plain-http ' : ''}${image}`;
    case 'nerdctl':
      return `nerdctl pull ${plain ? '--insecure-registry ' : ''}${image}`;
  }
}

export function PullCommands({ name, reference }: { name: string; reference: string }) {
  const [client, setClient] = useState<Client>('docker');
  const onKeyDown = (event: KeyboardEvent) => {
    // Arrow keys move between tabs, as a tab list does.
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    event.preventDefault();
    const next = CLIENTS[(CLIENTS.indexOf(client) + step + CLIENTS.length) % CLIENTS.length];
    setClient(next);
    document.getElementById(`pull-tab-${next}`)?.focus();
  };
  return html`<section class="card pull" aria-labelledby="pull-heading">
    <div class="card-head">
      <h2 id="pull-heading">Pull</h2>
      <div class="tabs" role="tablist" aria-label="Client" onKeyDown=${onKeyDown}>
        ${CLIENTS.map(
          (c) =>
            html`<button
              type="button"
              role="tab"
              id=${`pull-tab-${c}`}
              aria-selected=${c === client}
              aria-controls="pull-panel"
              tabindex=${c === client ? 0 : -1}
              class="tab"
              onClick=${() => setClient(c)}
              data-testid=${`pull-tab-${c}`}
            >
              ${c}
            </button>`,
        )}
      </div>
    </div>
    <div id="pull-panel" role="tabpanel" aria-labelledby=${`pull-tab-${client}`} data-testid="pull-command">
      <${Snippet} text=${pullCommand(client, name, reference)} label=${`${client} pull command`} />
    </div>
  </section>`;
}
