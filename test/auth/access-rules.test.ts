// The access rules (stowage.auth.access): globs over repository names, who a rule applies to, and
// the default policy without rules; and the scope grammar tokens and challenges are written in.
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, AccessRules, compileGlob } from '../../auth/access-rules.js';
import { basicChallenge, bearerChallenge, parseAuthorization } from '../../auth/credentials.js';
import { formatScope, grants, parseScope } from '../../auth/scope.js';

describe('repository globs', () => {
  it.each([
    ['public/*', 'public/alpine', true],
    ['public/*', 'public/team/alpine', false],
    ['public/*', 'publicity/alpine', false],
    ['public/**', 'public/team/alpine', true],
    ['public/**', 'public', true],
    ['**', 'any/thing/at/all', true],
    ['**/cache', 'a/b/cache', true],
    ['**/cache', 'cache', true],
    ['team-?/app', 'team-a/app', true],
    ['team-?/app', 'team-ab/app', false],
    ['a.b/*', 'axb/c', false],
    ['library/alpine', 'library/alpine', true],
    ['library/alpine', 'library/alpine2', false],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(compileGlob(glob).test(name)).toBe(expected);
  });
});

describe('access rules', () => {
  const rules = new AccessRules(
    [
      { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
      { repositories: ['team/**'], authenticated: true, actions: ['pull'] },
      { repositories: ['team/**'], groups: ['developers'], actions: ['push'] },
      { repositories: ['**'], users: ['root'], actions: ['pull', 'push', 'delete'] },
    ],
    { developers: ['dora'] },
  );

  it('grants anonymous callers only what anonymous rules grant', () => {
    expect([...rules.allowed(ANONYMOUS, 'public/alpine')]).toEqual(['pull']);
    expect(rules.allowed(ANONYMOUS, 'team/app').size).toBe(0);
    expect(rules.grantsAnything(ANONYMOUS)).toBe(true);
  });

  it('applies anonymous rules to logged-in users too, and authenticated rules to any of them', () => {
    const eve = rules.identity('eve');
    expect(rules.allows(eve, 'public/alpine', 'pull')).toBe(true);
    expect(rules.allows(eve, 'team/app', 'pull')).toBe(true);
    expect(rules.allows(eve, 'team/app', 'push')).toBe(false);
  });

  it('adds up the grants of every rule that applies, by group and by user', () => {
    const dora = rules.identity('dora');
    expect(dora.groups).toEqual(['developers']);
    expect([...rules.allowed(dora, 'team/app')].sort()).toEqual(['pull', 'push']);
    expect(rules.allows(dora, 'team/app', 'delete')).toBe(false);
    expect([...rules.allowed(rules.identity('root'), 'private/x')].sort()).toEqual(['delete', 'pull', 'push']);
  });

  it('refuses what no rule grants', () => {
    expect(rules.allowed(rules.identity('eve'), 'private/x').size).toBe(0);
  });

  it('without rules lets every logged-in user do everything and anonymous callers nothing', () => {
    const open = new AccessRules(undefined);
    expect([...open.allowed(open.identity('anyone'), 'x/y')].sort()).toEqual(['delete', 'pull', 'push']);
    expect(open.allowed(ANONYMOUS, 'x/y').size).toBe(0);
    expect(open.grantsAnything(ANONYMOUS)).toBe(false);
  });

  it('with rules that grant anonymous callers nothing, they may not list the catalog', () => {
    const closed = new AccessRules([{ repositories: ['**'], authenticated: true, actions: ['pull'] }]);
    expect(closed.grantsAnything(ANONYMOUS)).toBe(false);
    expect(closed.grantsAnything(closed.identity('u'))).toBe(true);
  });
});

describe('resource scopes', () => {
  it('parses repository and registry scopes, several in one parameter', () => {
    expect(parseScope('repository:samalba/my-app:pull,push registry:catalog:*')).toEqual([
      { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('keeps colons inside the name and drops a resource class', () => {
    expect(parseScope('repository(plugin):localhost:5000/x:pull')).toEqual([{ type: 'repository', name: 'localhost:5000/x', actions: ['pull'] }]);
  });

  it.each(['', 'repository', 'repository:name', ':name:pull', 'repository::pull', 'Repository:x:pull', 'repository:x:Pull'])(
    'drops malformed %j',
    (scope) => {
      expect(parseScope(scope)).toEqual([]);
    },
  );

  it('caps how many scopes one parameter may hold', () => {
    expect(parseScope(Array.from({ length: 100 }, (_, i) => `repository:r${i}:pull`).join(' ')).length).toBe(64);
  });

  it('formats scopes back into the grammar', () => {
    const items = parseScope('repository:a/b:pull,push registry:catalog:*');
    expect(formatScope(items)).toBe('repository:a/b:pull,push registry:catalog:*');
  });

  it('checks an access claim for one action', () => {
    const granted = [{ type: 'repository', name: 'a', actions: ['pull'] }];
    expect(grants(granted, 'repository', 'a', 'pull')).toBe(true);
    expect(grants(granted, 'repository', 'a', 'push')).toBe(false);
    expect(grants(granted, 'repository', 'b', 'pull')).toBe(false);
  });
});

describe('credentials and challenges', () => {
  it('reads Basic credentials, the password may hold colons', () => {
    expect(parseAuthorization(`Basic ${Buffer.from('u:p:a:ss').toString('base64')}`)).toEqual({ scheme: 'basic', user: 'u', password: 'p:a:ss' });
  });

  it('reads Bearer tokens, scheme in any case', () => {
    expect(parseAuthorization('bearer abc.def.ghi')).toEqual({ scheme: 'bearer', token: 'abc.def.ghi' });
  });

  it.each([
    'Basic',
    'Basic !!!',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
    `Basic ${Buffer.from(':p').toString('base64')}`,
    'Digest x',
    'Bearer',
  ])('marks %j malformed', (header) => {
    expect(parseAuthorization(header)).toEqual({ scheme: 'malformed' });
  });

  it('has nothing to read without a header, or with empty Basic credentials', () => {
    expect(parseAuthorization(undefined)).toBeUndefined();
    expect(parseAuthorization('')).toBeUndefined();
    expect(parseAuthorization(`Basic ${Buffer.from(':').toString('base64')}`)).toBeUndefined();
  });

  it('quotes challenge parameters safely', () => {
    expect(basicChallenge('my "realm"\r\n')).toBe('Basic realm="my \\"realm\\""');
    expect(bearerChallenge({ realm: 'https://r/token', service: 'reg', scope: 'repository:a:pull', error: 'insufficient_scope' })).toBe(
      'Bearer realm="https://r/token",service="reg",scope="repository:a:pull",error="insufficient_scope"',
    );
  });
});
