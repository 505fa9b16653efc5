// Resource scopes and access claims of the Docker token specification (distribution
// docs/spec/auth/scope.md): "repository:samalba/my-app:pull,push", "registry:catalog:*".
// The same shape is what a request needs, what a client asks the token endpoint for, and what a
// token's `access` claim grants.

export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

export interface ResourceAccess {
  /** "repository" or "registry" (a class such as "repository(plugin)" is dropped). */
  type: string;
  name: string;
  /** Actions as written: pull, push, delete, or "*" (everything, e.g. registry:catalog:*). */
  actions: string[];
}

/** What GET /v2/_catalog needs from a token (Distribution's catalog scope). */
export const CATALOG_ACCESS: ResourceAccess = { type: 'registry', name: 'catalog', actions: ['*'] };

/** Bounds on what one scope parameter may hold, so a request cannot make us build huge tokens. */
const MAX_SCOPE_ITEMS = 64;
const MAX_SCOPE_LENGTH = 4096;

const TYPE_RE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/;
const ACTION_RE = /^(?:[a-z]+|\*)$/;

/**
 * Parses space-separated resource scopes. Items that do not fit the grammar are dropped: the
 * token endpoint grants only what it understands.
 */
export function parseScope(scope: string): ResourceAccess[] {
  if (scope.length > MAX_SCOPE_LENGTH) return [];
  const out: ResourceAccess[] = [];
  for (const item of scope.split(' ')) {
    if (!item || out.length >= MAX_SCOPE_ITEMS) continue;
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = TYPE_RE.exec(item.slice(0, first));
    const name = item.slice(first + 1, last);
    const actions = item
      .slice(last + 1)
      .split(',')
      .filter((a) => ACTION_RE.test(a));
    if (!type || !name || actions.length === 0) continue;
    out.push({ type: type[1], name, actions: [...new Set(actions)] });
  }
  return out;
}

export function formatScope(items: ResourceAccess[]): string {
  return items.map((i) => `${i.type}:${i.name}:${i.actions.join(',')}`).join(' ');
}

/** Whether granted (a token's access claim) covers action on the resource. */
export function grants(granted: ResourceAccess[], type: string, name: string, action: string): boolean {
  return granted.some((g) => g.type === type && g.name === name && (g.actions.includes(action) || g.actions.includes('*')));
}

/** The repository access a request needs, for a challenge's scope parameter. */
export function repositoryAccess(name: string, actions: Action[]): ResourceAccess {
  return { type: 'repository', name, actions: [...actions] };
}
