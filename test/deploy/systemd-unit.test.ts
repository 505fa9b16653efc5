// deploy/stowage.service parses, starts the compiled CLI's serve command from the install path
// deploy/README.md uses, keeps data in the state directory systemd makes, waits for the drain on
// stop, and sandboxes the process. `systemd-analyze verify` and `security` check it further.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration, parseListenAddress } from '../../server/config.js';
import { ROOT, parseUnit, readRepoFile } from './deploy-files.js';

const INSTALL_DIR = '/opt/stowage';
const unit = parseUnit(readRepoFile('deploy/stowage.service'));
const service = unit.get('Service')!;
const setting = (key: string): string | undefined => service.get(key)?.at(-1);
const environment = (): Record<string, string> =>
  Object.fromEntries((service.get('Environment') ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

describe('deploy/stowage.service', () => {
  it('has the Unit, Service and Install sections and is wanted by multi-user.target', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('runs serve from the compiled CLI under the install directory', () => {
    const [node, script, ...args] = setting('ExecStart')!.split(/\s+/);
    expect(node).toMatch(/^\/usr\/(local\/)?bin\/node$/);
    expect(script.startsWith(`${INSTALL_DIR}/dist/`)).toBe(true);
    // dist/stowage.mjs is the loader scripts/bundle.mjs writes beside its bundle of server/cli.ts.
    expect(script.slice(`${INSTALL_DIR}/dist/`.length)).toBe('stowage.mjs');
    expect(readRepoFile('scripts/bundle.mjs')).toContain("const loader = join(root, 'dist/stowage.mjs');");
    expect(existsSync(join(ROOT, 'server/cli.ts'))).toBe(true);
    expect(args).toEqual(['serve']);
    expect(readRepoFile('deploy/README.md')).toContain(`cd ${INSTALL_DIR}`);
  });

  it('keeps data in the state directory systemd creates, on a port that needs no capability', () => {
    const env = environment();
    expect(env.REGISTRY_CONFIGURATION_PATH).toBe('/etc/stowage/config.yml');
    expect(env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY).toBe(`/var/lib/${setting('StateDirectory')}`);
    // Started from deploy/config.yml as deploy/README.md says: the unit's environment wins.
    const { config, warnings } = loadConfig(join(ROOT, 'deploy/config.yml'), env);
    expect(warnings).toEqual([]);
    expect(config.storage.filesystem?.rootdirectory).toBe(env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY);
    expect(parseListenAddress(config.http.addr).port).toBeGreaterThanOrEqual(1024);
  });

  it('sends SIGTERM and waits longer than the longest drain before killing', () => {
    expect(setting('KillSignal')).toBe('SIGTERM');
    const stopMs = parseDuration(setting('TimeoutStopSec')!.replace(/^(\d+)$/, '$1s'));
    const defaultDrainMs = 30_000; // server/serve.ts without http.draintimeout
    expect(stopMs).toBeGreaterThan(defaultDrainMs);
    const { config } = loadConfig(join(ROOT, 'deploy/config.yml'), {});
    expect(stopMs).toBeGreaterThan(config.http.draintimeoutMs!);
  });

  it('runs as a dynamic user without capabilities in a read-only, private sandbox', () => {
    const required: Record<string, string> = {
      DynamicUser: 'yes',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
    };
    for (const [key, value] of Object.entries(required)) expect(setting(key), key).toBe(value);
    expect(service.get('SystemCallFilter')).toContain('@system-service');
    expect(setting('RestrictAddressFamilies')!.split(' ').sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    // V8 compiles to memory it then executes: this setting would kill node at start.
    expect(setting('MemoryDenyWriteExecute')).toBeUndefined();
  });
});
