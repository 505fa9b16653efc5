// Retention: the dry run of the retention policies (GET /admin/retention/plan, for admins): per
// repository a policy covers, the tags and manifests a run would delete with the reason, and the
// kept tags with theirs. Read-only: runs are `stowage retention run` or POST /admin/retention/run.
import type { RetentionPlan } from '../api-types.js';
import { ApiError } from '../api.js';
import { Digest, Empty, ErrorMessage, Loading, PageTitle, Stat, Time, useTitle } from '../components.js';
import { plural } from '../format.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { repositoryUrl, tagUrl } from '../routes.js';
import { useApi } from '../use-api.js';

type RepositoryPlan = RetentionPlan['repositories'][number];

function Decisions({ caption, rows, testid }: { caption: string; rows: Array<{ tag?: string; digest: string; reason: string }>; testid: string }) {
  return html`<table class="data responsive" data-testid=${testid}>
    <caption class="visually-hidden">
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">Tag</th>
        <th scope="col">Digest</th>
        <th scope="col">Reason</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr data-testid=${`${testid}-row`}>
            <td data-label="Tag" class="primary">${r.tag ? html`<code>${r.tag}</code>` : html`<span class="muted">manifest</span>`}</td>
            <td data-label="Digest"><${Digest} digest=${r.digest} /></td>
            <td data-label="Reason">${r.reason}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function RepositoryCard({ plan }: { plan: RepositoryPlan }) {
  const goes = [...plan.tagsDeleted, ...plan.manifestsDeleted];
  return html`<section class="card" aria-label=${plan.repository} data-testid="retention-repository">
    <h2><${Link} href=${repositoryUrl(plan.repository)}>${plan.repository}<//> <span class="muted small">policy ${plan.policy}</span></h2>
    ${
      goes.length === 0
        ? html`<p class="muted">Nothing to delete.</p>`
        : html`<${Decisions} caption=${`What a run would delete from ${plan.repository}`} rows=${goes} testid="retention-deleted" />`
    }
    ${
      plan.tagsKept.length > 0
        ? html`<details>
            <summary>${plural(plan.tagsKept.length, 'tag')} kept</summary>
            <ul class="plain">
              ${plan.tagsKept.map(
                (t) =>
                  html`<li data-testid="retention-kept-row">
                    <${Link} href=${tagUrl(plan.repository, t.tag)}><code>${t.tag}</code><//> <span class="muted small">${t.reason}</span>
                  </li>`,
              )}
            </ul>
          </details>`
        : null
    }
  </section>`;
}

export function RetentionPage() {
  useTitle('Retention');
  const plan = useApi<RetentionPlan>('/admin/retention/plan');
  const p = plan.data;
  const unconfigured = plan.error instanceof ApiError && plan.error.status === 404;
  return html`
    <${PageTitle} sub="What the retention policies would delete now, and why (a dry run; nothing is deleted here).">Retention<//>
    ${unconfigured ? html`<${Empty}>No retention policies are configured (<code>stowage.retention</code>).<//>` : null}
    ${plan.error && !unconfigured ? html`<${ErrorMessage} error=${plan.error} />` : null}
    ${plan.loading && !p ? html`<${Loading} what="Evaluating the retention policies" />` : null}
    ${
      p
        ? html`
            <section class="stats" aria-label="Retention totals" data-testid="retention-totals">
              <${Stat} label="Repositories covered" value=${String(p.repositories.length)} />
              <${Stat} label="Tags to delete" value=${String(p.tagsDeleted)} testid="retention-tags-deleted" />
              <${Stat} label="Manifests to delete" value=${String(p.manifestsDeleted)} />
              <${Stat} label="Evaluated" value=${html`<${Time} iso=${p.evaluatedAt} />`} />
            </section>
            <p class="muted small">
              Run it with <code>stowage retention run</code> or <code>POST /admin/retention/run</code>; garbage collection then frees the blobs.
            </p>
            ${p.repositories.length === 0 ? html`<${Empty}>No repository is covered by a policy.<//>` : null}
            ${p.repositories.map((r) => html`<${RepositoryCard} key=${r.repository} plan=${r} />`)}
          `
        : null
    }
  `;
}
