// What the configuration allows the routes to do: deletes, and writes at all (maintenance mode).
import type { RegistryConfig } from './config.js';

export interface RouteOptions {
  deleteEnabled: boolean;
  readOnly: boolean;
  /** Blob GETs answer 307 to the storage's own URL when it has one (storage.redirect.disable: false). */
  redirect: boolean;
}

export function routeOptions(config: RegistryConfig): RouteOptions {
  return {
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance?.readonly?.enabled ?? false,
    redirect: config.storage.redirect?.disable === false,
  };
}
