// The driver a configuration names, for tests that assemble storage themselves: the server never
// holds one (storage/open.ts builds it from the settings server/open-storage.ts reads).
import { openDriver } from '../../storage/open.js';
import { storageSettings } from '../../server/open-storage.js';
import type { RegistryConfig } from '../../server/config.js';

export function driverFromConfig(config: RegistryConfig, env: NodeJS.ProcessEnv = process.env) {
  return openDriver(storageSettings(config), env);
}
