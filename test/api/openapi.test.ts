// openapi.yaml is kept true by this test, both ways: every (path, method) it describes is served
// and every served route is described. /v2 paths are mapped to a concrete path and run through
// matchRoute() against ROUTES (server/routes.ts); paths outside /v2 are compared with OPS_ROUTES
// (server/routes/ops.ts) and requested from a running app to see they are answered. The error code
// enum must equal the keys of ERROR_CODES (storage/errors.ts), and every $ref must resolve.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type supertest from 'supertest';
import { parse } from 'yaml';
import { ERROR_CODES } from '../../errors/registry-error.js';
import { OPS_ROUTES } from '../../server/routes/ops.js';
import { ROUTES, matchRoute } from '../../server/v2/router.js';
import type { Resource } from '../../server/v2/route-types.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const HTTP_METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'] as const;

interface Operation {
  operationId?: string;
  parameters?: Array<Record<string, unknown>>;
  responses?: Record<string, unknown>;
}

type PathItem = Partial<Record<(typeof HTTP_METHODS)[number], Operation>> & { parameters?: Array<Record<string, unknown>> };

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, { enum?: string[] }> } & Record<string, unknown>;
}

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDocument;

/** Concrete values for path parameters; a name with slashes proves {name} may hold them. */
const EXAMPLES: Record<string, string> = {
  name: 'library/team/app',
  reference: 'latest',
  digest: `sha256:${'a'.repeat(64)}`,
  uuid: '0f6b6a3e-6d0c-4c55-9a3a-2f1f1b2c3d4e',
  index: '0',
  robot: 'ci',
  // The web UI: a deep link and a file of the build.
  path: 'r/library/team/app/t/latest',
  file: 'icon.svg',
};

function concretePath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, param: string) => {
    const value = EXAMPLES[param];
    if (value === undefined) throw new Error(`openapi.yaml: no example value for path parameter {${param}} in ${template}`);
    return value;
  });
}

function operations(): Array<{ path: string; method: string; operation: Operation; item: PathItem }> {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) out.push({ path, method: method.toUpperCase(), operation, item });
    }
  }
  return out;
}

/** Follows a local "#/a/b" reference. */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local references are used: ${ref}`);
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

function deref<T>(value: T | { $ref: string }): T {
  const ref = (value as { $ref?: string }).$ref;
  return ref ? (resolve(ref) as T) : (value as T);
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else collectRefs(value, out);
    }
  }
  return out;
}

const v2Operations = () => operations().filter((o) => o.path === '/v2/' || o.path.startsWith('/v2/'));
const otherOperations = () => operations().filter((o) => !(o.path === '/v2/' || o.path.startsWith('/v2/')));

describe('openapi.yaml', () => {
  it('is an OpenAPI 3.1 document whose references all resolve', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const unresolved = collectRefs(doc).filter((ref) => resolve(ref) === undefined);
    expect(unresolved).toEqual([]);
  });

  it('gives every operation a unique operationId and at least one response', () => {
    const ids = operations().map((o) => o.operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, method, operation } of operations()) {
      expect(Object.keys(operation.responses ?? {}), `${method} ${path}`).not.toHaveLength(0);
    }
  });

  it('declares every path parameter of every operation', () => {
    for (const { path, method, operation, item } of operations()) {
      const declared = [...(item.parameters ?? []), ...(operation.parameters ?? [])]
        .map((p) => deref<{ name: string; in: string }>(p as { name: string; in: string }))
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(declared, `${method} ${path}`).toEqual(inTemplate);
    }
  });

  it('describes exactly the /v2 routes the server serves (ROUTES via matchRoute)', () => {
    const described: Partial<Record<Resource, string[]>> = {};
    for (const { path, method } of v2Operations()) {
      const route = matchRoute(concretePath(path));
      expect(route, `${path} matches no /v2 route`).toBeDefined();
      const resource = (route as { resource: Resource }).resource;
      expect(Object.keys(ROUTES[resource]), `${method} ${path} (${resource}) is not served`).toContain(method);
      (described[resource] ??= []).push(method);
    }
    const served = Object.fromEntries(Object.entries(ROUTES).map(([resource, methods]) => [resource, Object.keys(methods).sort()]));
    const describedSorted = Object.fromEntries(Object.entries(described).map(([resource, methods]) => [resource, [...methods].sort()]));
    expect(describedSorted).toEqual(served);
  });

  it('describes exactly the routes outside /v2 the server lists (OPS_ROUTES)', () => {
    const described = otherOperations()
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    const served = OPS_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(described).toEqual(served);
  });

  it('lists exactly the error codes of storage/errors.ts', () => {
    const enumCodes = doc.components.schemas.ErrorCode.enum ?? [];
    expect(new Set(enumCodes).size).toBe(enumCodes.length);
    expect([...enumCodes].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('describes error answers as the envelope of ErrorCode entries', () => {
    const envelope = doc.components.schemas.ErrorResponse as unknown as {
      properties: { errors: { items: { properties: { code: { $ref: string } } } } };
    };
    expect(envelope.properties.errors.items.properties.code.$ref).toBe('#/components/schemas/ErrorCode');
  });
});

describe('openapi.yaml against the running app', () => {
  let reg: TestRegistry;
  let request: ReturnType<typeof supertest>;

  beforeAll(async () => {
    reg = await startTestRegistry(filesystemDriverFactory);
    request = reg.request;
  });

  afterAll(async () => {
    await reg.cleanup();
  });

  it('answers every operation outside /v2 with a documented status', async () => {
    const operationsOutsideV2 = otherOperations();
    for (const { path, method, operation } of operationsOutsideV2) {
      const resp = await request[method.toLowerCase() as 'get'](concretePath(path));
      const documented = Object.keys(operation.responses ?? {});
      expect(documented.includes(String(resp.status)) || documented.includes('default'), `${method} ${path} answered ${resp.status}`).toBe(true);
      // A route may answer 404 for what it does not hold (an unknown repository); the router's
      // own 404 for a path nobody serves names the path.
      expect(resp.status === 404 && resp.body?.errors?.[0]?.detail?.path !== undefined, `${method} ${path} is not routed`).toBe(false);
    }
    expect(operationsOutsideV2.length).toBe(OPS_ROUTES.length);
  });

  it('answers the generic 404 for a path nobody serves, so the check above can tell', async () => {
    const resp = await request.get('/no-such-endpoint');
    expect(resp.status).toBe(404);
    expect(resp.body.errors[0].code).toBe('NAME_UNKNOWN');
    expect(resp.body.errors[0].detail).toEqual({ path: '/no-such-endpoint' });
  });
});
