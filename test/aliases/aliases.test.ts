// Alias resolution (server/v2/aliases.ts): exact and prefix aliases, chains, writability, what the
// catalog lists, and the configurations refused at start-up.
import { describe, expect, it } from 'vitest';
import { Aliases } from '../../server/v2/aliases.js';
import { ConfigError } from '../../server/config.js';

describe('aliases', () => {
  const aliases = new Aliases({
    busybox: 'dockerhub/library/busybox',
    'base/*': 'team/base/*',
    'tools/*': { target: 'team/tools/*', writable: true },
    'team/base/old/*': 'team/base/legacy/*',
    short: 'base/alpine',
  });

  it('maps an exact alias to its target', () => {
    expect(aliases.resolve('busybox')).toEqual({ name: 'dockerhub/library/busybox', writable: false });
  });

  it('maps a prefix alias and keeps the rest of the name', () => {
    expect(aliases.resolve('base/alpine')).toEqual({ name: 'team/base/alpine', writable: false });
    expect(aliases.resolve('base/x/y')).toEqual({ name: 'team/base/x/y', writable: false });
  });

  it('follows chains, and the longest prefix wins', () => {
    expect(aliases.resolve('short')).toEqual({ name: 'team/base/alpine', writable: false });
    expect(aliases.resolve('base/old/img')).toEqual({ name: 'team/base/legacy/img', writable: false });
  });

  it('is writable only when every alias on the way is', () => {
    expect(aliases.resolve('tools/jq')).toEqual({ name: 'team/tools/jq', writable: true });
  });

  it('leaves other names alone', () => {
    expect(aliases.resolve('team/base/alpine')).toBeUndefined();
    expect(aliases.resolve('busybox2')).toBeUndefined();
    expect(aliases.resolve('base')).toBeUndefined();
  });

  it('lists exact aliases whose target exists and every repository under a prefix target', () => {
    const listed = aliases.listed(['dockerhub/library/busybox', 'team/base/alpine', 'team/base/debian', 'other/x']).sort();
    expect(listed).toEqual(['base/alpine', 'base/debian', 'busybox', 'short']);
  });

  it('refuses a loop at start-up, naming it', () => {
    expect(() => new Aliases({ a: 'b', b: 'c', c: 'a' })).toThrow(ConfigError);
    expect(() => new Aliases({ 'x/*': 'y/*', 'y/*': 'x/*' })).toThrow(/loop/);
  });

  it('refuses invalid names and mixed prefix forms', () => {
    expect(() => new Aliases({ '../etc': 'x' })).toThrow(ConfigError);
    expect(() => new Aliases({ 'a/*': 'b' })).toThrow(/prefix/);
    expect(() => new Aliases({ A: 'b' })).toThrow(ConfigError);
  });
});
