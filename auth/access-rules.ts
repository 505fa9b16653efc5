// Who may do what on which repositories: the rules of `stowage.auth.access`. A rule grants actions
// (pull, push, delete) on repositories matching its glob patterns to the users, groups, anyone
// logged in (authenticated) and/or everyone (anonymous) it names. Rules only grant; what no rule
// grants is refused. Without rules, every logged-in user may do everything and nobody else anything
// (Distribution's htpasswd behaviour). A robot (auth/robot-accounts.ts) is not ruled by them: its
// own grants, carried in its Identity, decide alone.
import { ACTIONS, type Action } from './scope.js';
import { compileGlob } from '../storage/grammar.js';

// The glob matcher lives with the name grammar, so the immutable-tag rules (storage/) share it.
export { compileGlob };

export interface AccessRule {
  /** Glob patterns over repository names: `*` within one component, `**` across components. */
  repositories: string[];
  actions: Action[];
  users?: string[];
  groups?: string[];
  /** Every logged-in user. */
  authenticated?: boolean;
  /** Everyone, logged in or not. */
  anonymous?: boolean;
}

export interface Identity {
  /** The user name (`robot$NAME` for a robot); undefined for an anonymous caller. */
  user?: string;
  groups: string[];
  /** A robot's grants (auth/robot-accounts.ts): when set, they alone decide, not the rules. */
  robot?: RobotGrants;
}

/** What a robot may do: these actions on repositories matching these globs (compileGlob). */
export interface RobotGrants {
  repositories: RegExp[];
  actions: readonly Action[];
}

export const ANONYMOUS: Identity = Object.freeze({ groups: [] as string[] }) as Identity;

interface CompiledRule {
  patterns: RegExp[];
  actions: Set<Action>;
  users: Set<string>;
  groups: Set<string>;
  authenticated: boolean;
  anonymous: boolean;
}

export class AccessRules {
  private readonly rules: CompiledRule[] | undefined;
  private readonly memberOf = new Map<string, string[]>();

  /** rules undefined: the default policy (logged-in users may do everything). */
  constructor(rules: AccessRule[] | undefined, groups: Record<string, string[]> = {}) {
    this.rules = rules?.map((r) => ({
      patterns: r.repositories.map(compileGlob),
      actions: new Set(r.actions),
      users: new Set(r.users ?? []),
      groups: new Set(r.groups ?? []),
      authenticated: r.authenticated ?? false,
      anonymous: r.anonymous ?? false,
    }));
    for (const [group, members] of Object.entries(groups)) {
      for (const user of members) this.memberOf.set(user, [...(this.memberOf.get(user) ?? []), group]);
    }
  }

  /** The identity of a logged-in user, with the groups the configuration puts them in. */
  identity(user: string): Identity {
    return { user, groups: this.memberOf.get(user) ?? [] };
  }

  private applies(rule: CompiledRule, who: Identity): boolean {
    if (rule.anonymous) return true;
    if (who.user === undefined) return false;
    return rule.authenticated || rule.users.has(who.user) || who.groups.some((g) => rule.groups.has(g));
  }

  /** The actions who may take on the repository name. */
  allowed(who: Identity, name: string): Set<Action> {
    if (who.robot) return new Set(who.robot.repositories.some((p) => p.test(name)) ? who.robot.actions : []);
    if (!this.rules) return new Set(who.user === undefined ? [] : ACTIONS);
    const out = new Set<Action>();
    for (const rule of this.rules) {
      if (!this.applies(rule, who) || !rule.patterns.some((p) => p.test(name))) continue;
      for (const action of rule.actions) out.add(action);
      if (out.size === ACTIONS.length) break;
    }
    return out;
  }

  allows(who: Identity, name: string, action: Action): boolean {
    return this.allowed(who, name).has(action);
  }

  /** Whether any rule grants who anything at all (may they list the catalog?). */
  grantsAnything(who: Identity): boolean {
    if (who.robot) return who.robot.actions.length > 0;
    if (!this.rules) return who.user !== undefined;
    return this.rules.some((r) => r.actions.size > 0 && this.applies(r, who));
  }
}
