// The one typed configuration object, read from a YAML file whose keys follow CNCF Distribution's
// config.yml where the two overlap (a registry:2 config works unchanged), overridden by
// REGISTRY_<PATH> environment variables as Distribution does, and validated at start-up: an
// unknown key or a wrong type stops start-up with a message naming the key. Durations are parsed
// here, once: the typed config holds them in milliseconds, under the YAML key with `Ms` added
// (http.draintimeout is config.http.draintimeoutMs).
import { join } from 'node:path';
import { parseDatabaseUrl } from '../storage/metadata/database.js';
import { REPOSITORY_GLOB_RE, TAG_GLOB_RE } from '../storage/immutable-tags.js';
import { parseByteSize } from './byte-size.js';
import { regexProblem } from '../storage/retention/policy.js';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

// The schema parses one config, once, at start-up: zod's JIT (a parser compiled per object schema
// with new Function) costs more than it saves on a single parse (a few ms of start-up).
z.config({ jitless: true });
import type { AuthSettings } from '../auth/open-auth.js';
import { isAddressOrCidr } from './client-address.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "5m", "1h30m" or a number of nanoseconds (Distribution's YAML durations) to milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value / 1e6;
  let total = 0;
  let rest = value.trim();
  if (!rest) throw new Error('empty duration');
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (!m) throw new Error(`invalid duration "${value}" (use e.g. 30s, 5m, 1h)`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** A duration as Distribution writes it, milliseconds once parsed (so defaults are `.prefault('5m')`). */
const duration = z
  .union([
    z.string().refine((s) => {
      try {
        parseDuration(s);
        return true;
      } catch {
        return false;
      }
    }, 'invalid duration (use e.g. 30s, 5m, 1h)'),
    z.number(),
  ])
  .transform(parseDuration);

/** T with each duration key K renamed to `${K}Ms`. */
type InMs<T, K extends string> = { [P in keyof T as P extends K ? `${P}Ms` : P]: T[P] };

/** For an object schema's .transform(): renames its duration keys to `<key>Ms`, so readers see the unit. */
function inMs<const K extends string>(...keys: K[]) {
  return <T extends Partial<Record<K, number>>>(value: T): InMs<T, K> => {
    const out: Record<string, unknown> = { ...value };
    for (const key of keys) {
      if (!(key in out)) continue;
      out[`${key}Ms`] = out[key];
      delete out[key];
    }
    return out as InMs<T, K>;
  };
}

const anyMap = z.record(z.string(), z.unknown());

/** storage.s3 in Distribution's shape (storage/drivers/s3/s3-driver.ts); AWS_* environment variables fill in what is left out. */
const s3Schema = z.strictObject({
  regionendpoint: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  bucket: z.string().min(1),
  accesskey: z.string().optional(),
  secretkey: z.string().optional(),
  sessiontoken: z.string().optional(),
  rootdirectory: z.string().optional(),
  secure: z.boolean().optional(),
  forcepathstyle: z.boolean().optional(),
  /** Multipart part size in bytes: at least 5 MiB (S3's smallest part), default 10 MiB. */
  chunksize: z
    .number()
    .int()
    .min(5 * 1024 * 1024, "must be at least 5242880 (5 MiB), S3's smallest part")
    .optional(),
  // Accepted so a registry:2 config works unchanged; stowage does not act on them.
  v4auth: z.boolean().optional(),
  encrypt: z.boolean().optional(),
  keyid: z.string().optional(),
  skipverify: z.boolean().optional(),
  storageclass: z.string().optional(),
  objectacl: z.string().optional(),
  multipartcopychunksize: z.number().optional(),
  multipartcopymaxconcurrency: z.number().optional(),
  multipartcopythresholdsize: z.number().optional(),
  usedualstack: z.boolean().optional(),
  accelerate: z.boolean().optional(),
  loglevel: z.string().optional(),
});

/** Distribution's auth section: one of htpasswd (Basic) or token (Bearer JWTs from a trusted issuer). */
const authSchema = z
  .strictObject({
    htpasswd: z.strictObject({ realm: z.string().default('Registry Realm'), path: z.string().min(1) }).optional(),
    token: z
      .strictObject({
        /** Where clients get tokens, e.g. https://registry.example.com/token for the built-in endpoint. */
        realm: z.string().min(1),
        /** The audience tokens must name, and the service clients ask the token endpoint for. */
        service: z.string().min(1),
        /** The `iss` tokens must carry; the built-in endpoint signs with it. */
        issuer: z.string().min(1),
        /** PEM certificates of the external issuer (x5c roots, and keys trusted by kid). */
        rootcertbundle: z.string().optional(),
        /** A JWK set file of trusted issuer keys. */
        jwks: z.string().optional(),
        // Accepted so a registry:2 config works unchanged; stowage does not act on them.
        autoredirect: z.boolean().optional(),
        autoredirectpath: z.string().optional(),
        signingalgorithms: z.array(z.string()).optional(),
      })
      .optional(),
  })
  .refine((auth) => !(auth.htpasswd && auth.token), 'configure one of auth.htpasswd and auth.token, not both');

const accessAction = z.enum(['pull', 'push', 'delete']);

/** stowage.auth: the built-in token endpoint, groups, access rules and login slow-down (auth/). */
const stowageAuthSchema = z.strictObject({
  /** The built-in token endpoint GET /token; needs auth.token (its realm should point here). */
  issuer: z
    .strictObject({
      /** htpasswd file (bcrypt) of the users who may log in. */
      htpasswd: z.string().min(1),
      /** PEM private key (EC, RSA or Ed25519); default: generated at first start in <data dir>/auth/. */
      key: z.string().optional(),
      /** Lifetime of an issued token. */
      expiry: duration.prefault('5m'),
    })
    .transform(inMs('expiry'))
    .optional(),
  /** Group name -> user names, for rules that name groups. */
  groups: z.record(z.string(), z.array(z.string())).default({}),
  /** Users who may manage robot accounts through the JSON API (/admin/robots). */
  admins: z.array(z.string().min(1)).default([]),
  /** Who may do what where; rules only grant. Absent: logged-in users may do everything. */
  access: z
    .array(
      z
        .strictObject({
          repositories: z.array(z.string().min(1)).min(1),
          actions: z.array(accessAction).min(1),
          users: z.array(z.string()).optional(),
          groups: z.array(z.string()).optional(),
          /** Any logged-in user. */
          authenticated: z.boolean().optional(),
          /** Everyone, logged in or not (e.g. public pull). */
          anonymous: z.boolean().optional(),
        })
        .refine(
          (r) => r.anonymous || r.authenticated || r.users?.length || r.groups?.length,
          'a rule must name users, groups, authenticated or anonymous',
        ),
    )
    .optional(),
  /**
   * Failed logins from one client address, or for one user, before it is refused (429) for
   * `lockout`; `concurrent` password checks may run at once for one address and for one user.
   */
  loginlimit: z
    .strictObject({
      attempts: z.number().int().positive().default(5),
      window: duration.prefault('1m'),
      lockout: duration.prefault('1m'),
      concurrent: z.number().int().positive().default(2),
    })
    .transform(inMs('window', 'lockout'))
    .prefault({}),
});

/** stowage.http: socket limits against slow or oversized requests (server/serve.ts). */
const stowageHttpSchema = z
  .strictObject({
    /** A connection that sends or reads nothing for this long is closed (slow-loris uploads). */
    idletimeout: duration.prefault('2m'),
    /** Time allowed for a request's headers to arrive. */
    headerstimeout: duration.prefault('60s'),
    /** Largest request header block in bytes; bigger gets 431. */
    maxheadersize: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** Upload requests (POST/PATCH/PUT of blob bytes) served at once; past it, 503 with Retry-After. */
    maxuploads: z.number().int().positive().default(256),
    /**
     * Of those, the most one client may hold (its user when logged in, else its address), so one
     * client cannot take every slot; past it, 503 with Retry-After (server/load-shedding.ts).
     */
    maxuploadsperclient: z.number().int().positive().default(64),
  })
  .transform(inMs('idletimeout', 'headerstimeout'));

/** A regular expression over tag names, checked at start-up. */
const tagRegex = z.string().superRefine((pattern, ctx) => {
  const problem = regexProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${problem}` });
});

/** stowage.retention: policies list what to keep; every other tag of a covered repository goes. */
const retentionSchema = z
  .strictObject({
    /** Run by the server this often (off unless set); `stowage retention run` any time. */
    interval: duration.optional(),
    policies: z
      .array(
        z.strictObject({
          repositories: z.array(z.string().regex(REPOSITORY_GLOB_RE, 'a glob over repository names: a-z 0-9 . _ - / * ?')).min(1),
          /** Also delete manifests already untagged before the run (older than stowage.gc.grace). */
          deleteuntagged: z.boolean().default(false),
          keeptags: z
            .array(
              z
                .strictObject({
                  /** Regular expressions over tag names (unanchored); default: every tag. */
                  patterns: z.array(tagRegex).min(1).default(['.*']),
                  mostrecentlypushedcount: z.number().int().nonnegative().optional(),
                  mostrecentlypulledcount: z.number().int().nonnegative().optional(),
                  pushedwithin: duration.optional(),
                  pulledwithin: duration.optional(),
                })
                .transform(inMs('pushedwithin', 'pulledwithin')),
            )
            .default([]),
        }),
      )
      .default([]),
  })
  .transform(inMs('interval'));

const schema = z.strictObject({
  version: z.union([z.string(), z.number()]).optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      formatter: z.enum(['text', 'json', 'logstash']).optional(),
      fields: anyMap.optional(),
      accesslog: z.strictObject({ disabled: z.boolean().default(false) }).prefault({}),
      hooks: z.array(z.unknown()).optional(),
      reportcaller: z.boolean().optional(),
    })
    .prefault({}),
  loglevel: z.string().optional(),
  http: z
    .strictObject({
      addr: z.string().default(':5000'),
      net: z.enum(['tcp', 'unix']).optional(),
      host: z.string().optional(),
      prefix: z.string().optional(),
      secret: z.string().optional(),
      relativeurls: z.boolean().optional(),
      draintimeout: duration.optional(),
      headers: z.record(z.string(), z.array(z.string())).optional(),
      tls: z
        .strictObject({
          certificate: z.string().optional(),
          key: z.string().optional(),
          clientcas: z.array(z.string()).optional(),
          letsencrypt: anyMap.optional(),
          minimumtls: z.string().optional(),
          ciphersuites: z.array(z.string()).optional(),
        })
        .optional(),
      /** Distribution's debug server: here it serves /metrics on its own address when prometheus is enabled. */
      debug: z
        .strictObject({
          addr: z.string(),
          prometheus: z.strictObject({ enabled: z.boolean().default(false), path: z.string().default('/metrics') }).optional(),
          tls: anyMap.optional(),
        })
        .optional(),
      http2: anyMap.optional(),
      /**
       * stowage's: reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed; the
       * client is then the right-most address no trusted proxy added (server/client-address.ts).
       */
      trustedproxies: z.array(z.string().refine((entry) => isAddressOrCidr(entry), 'an IP address or a CIDR (10.0.0.0/8, fd00::/8)')).default([]),
    })
    .transform(inMs('draintimeout'))
    .prefault({}),
  storage: z
    .strictObject({
      filesystem: z
        .strictObject({
          rootdirectory: z.string().default('./data'),
          maxthreads: z.number().int().optional(),
          // stowage's: sync writes to disk before they become visible (README "Storage").
          fsync: z.boolean().default(true),
        })
        .optional(),
      s3: s3Schema.optional(),
      inmemory: anyMap.optional(),
      delete: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
      cache: z.strictObject({ blobdescriptor: z.string().optional(), blobdescriptorsize: z.number().optional() }).optional(),
      maintenance: z
        .strictObject({
          uploadpurging: z
            .strictObject({
              enabled: z.boolean().default(true),
              age: duration.prefault('168h'),
              interval: duration.prefault('24h'),
              dryrun: z.boolean().default(false),
            })
            .transform(inMs('age', 'interval'))
            .optional(),
          readonly: z.strictObject({ enabled: z.boolean().default(false) }).optional(),
        })
        .optional(),
      redirect: z.strictObject({ disable: z.boolean().default(true) }).optional(),
      tag: z.strictObject({ concurrencylimit: z.number().int().optional() }).optional(),
    })
    .refine((storage) => !(storage.filesystem && storage.s3), 'set exactly one of storage.filesystem and storage.s3')
    .prefault({}),
  health: anyMap.optional(),
  notifications: z
    .strictObject({
      events: z.strictObject({ includereferences: z.boolean().optional() }).optional(),
      endpoints: z
        .array(
          z
            .strictObject({
              name: z.string().min(1),
              url: z.url({ protocol: /^https?$/ }),
              disabled: z.boolean().optional(),
              headers: z.record(z.string(), z.array(z.string())).optional(),
              timeout: duration.optional(),
              threshold: z.number().int().optional(),
              backoff: duration.optional(),
              ignoredmediatypes: z.array(z.string()).optional(),
              ignore: z.strictObject({ mediatypes: z.array(z.string()).optional(), actions: z.array(z.string()).optional() }).optional(),
              /** Stowage: events kept per endpoint while it is unreachable; the oldest go first. */
              queuesize: z.number().int().positive().optional(),
            })
            .transform(inMs('timeout', 'backoff')),
        )
        .default([]),
    })
    .optional(),
  redis: anyMap.optional(),
  validation: anyMap.optional(),
  compatibility: anyMap.optional(),
  reporting: anyMap.optional(),
  middleware: anyMap.optional(),
  auth: authSchema.optional(),
  // Distribution's pull-through cache: the whole registry mirrors one upstream (proxy/).
  proxy: z
    .strictObject({
      remoteurl: z.url({ protocol: /^https?$/ }),
      username: z.string().optional(),
      password: z.string().optional(),
      /** How long a cached tag is served before one upstream HEAD revalidates it. */
      ttl: duration.prefault('5m'),
    })
    .transform(inMs('ttl'))
    .optional(),
  // Stowage's own settings, apart from Distribution's.
  stowage: z
    .strictObject({
      /** Garbage collection run by the server on a timer (off unless interval is set). */
      gc: z
        .strictObject({
          interval: duration.optional(),
          /** Anything written more recently than this is kept. */
          grace: duration.prefault('1h'),
          deleteuntagged: z.boolean().default(false),
        })
        .transform(inMs('interval', 'grace'))
        .prefault({}),
      cache: z
        .strictObject({
          /** How long a replica may serve a cached tag or listing before re-reading storage. */
          ttl: duration.prefault('2s'),
          /** Bytes of manifest content kept in memory. */
          manifestbytes: z
            .number()
            .int()
            .positive()
            .default(64 * 1024 * 1024),
        })
        .transform(inMs('ttl'))
        .prefault({}),
      /** The metadata database (storage/metadata/): sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB. */
      database: z
        .strictObject({
          /** Default: sqlite:<storage.filesystem.rootdirectory>/stowage.db. */
          url: z
            .string()
            .refine((url) => isDatabaseUrl(url), 'must be sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB')
            .optional(),
        })
        .prefault({}),
      auth: stowageAuthSchema.prefault({}),
      http: stowageHttpSchema.prefault({}),
      /** Short names: "busybox: dockerhub/library/busybox", "base/*: team/base/*", or {target, writable} (server/v2/aliases.ts). */
      aliases: z.record(z.string(), z.union([z.string(), z.strictObject({ target: z.string(), writable: z.boolean().default(false) })])).default({}),
      /** Upstream registries cached under a name prefix, beside local repositories (proxy/). */
      proxies: z
        .array(
          z
            .strictObject({
              prefix: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'one lowercase name component, e.g. dockerhub'),
              remoteurl: z.url({ protocol: /^https?$/ }),
              username: z.string().optional(),
              password: z.string().optional(),
              ttl: duration.prefault('5m'),
              /** How long an upstream "not found" is remembered before asking again. */
              notfoundttl: duration.prefault('30s'),
              /** Registry host names that containerd's ?ns=<host> routes to this upstream. */
              hosts: z.array(z.string()).default([]),
              /** One-part names get "library/"; defaults to true when remoteurl or hosts name docker.io. */
              dockerhub: z.boolean().optional(),
            })
            .transform(inMs('ttl', 'notfoundttl')),
        )
        .default([]),
      /** Tags that never move to another digest nor go (storage/immutable-tags.ts); absent: none. */
      immutable: z
        .array(
          z.strictObject({
            repositories: z.array(z.string().regex(REPOSITORY_GLOB_RE, 'a glob over repository names: a-z 0-9 . _ - / * ?')).min(1),
            tags: z.array(z.string().regex(TAG_GLOB_RE, 'a glob over tag names: A-Z a-z 0-9 . _ - * ?, at most 128 characters')).min(1),
          }),
        )
        .default([]),
      /** Storage limits per group of repositories (storage/quotas.ts); absent: none. */
      quotas: z
        .array(
          z.strictObject({
            repositories: z.array(z.string().regex(REPOSITORY_GLOB_RE, 'a glob over repository names: a-z 0-9 . _ - / * ?')).min(1),
            /** A number of bytes or a size such as 10GiB or 500MB. */
            maxbytes: z.union([z.number(), z.string()]).transform((value, ctx) => {
              try {
                return parseByteSize(value);
              } catch (err) {
                ctx.addIssue({ code: 'custom', message: (err as Error).message });
                return z.NEVER;
              }
            }),
          }),
        )
        .refine(
          (quotas) => new Set(quotas.map((q) => q.repositories.join(','))).size === quotas.length,
          'two quotas name the same repositories: merge them',
        )
        .default([]),
      /** The audit log (storage/audit-log.ts): a JSON lines file beside the database rows, kept for maxage. */
      audit: z
        .strictObject({ path: z.string().min(1).optional(), maxage: duration.prefault('90d') })
        .transform(inMs('maxage'))
        .prefault({}),
      /** Bytes the pull-through cache may hold; past it the least recently pulled images go. 0: no cap. */
      proxycache: z.strictObject({ maxbytes: z.number().int().nonnegative().default(0) }).prefault({}),
      /** Tag retention policies in zot's shape (storage/retention/); absent: nothing is deleted. */
      retention: retentionSchema.optional(),
    })
    .prefault({}),
});

/** The validated config: Distribution's keys, except durations, which are `<key>Ms` in milliseconds. */
export type RegistryConfig = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type SchemaNode = {
  _zod: { def: { type: string; innerType?: SchemaNode; in?: SchemaNode; shape?: Record<string, SchemaNode>; options?: SchemaNode[] } };
};

/** The schema under optional/default wrappers and transforms (a pipe's input): what the YAML holds. */
function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  for (;;) {
    const def = current._zod.def;
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** Applies REGISTRY_HTTP_ADDR-style variables: REGISTRY_ then the key path, upper case, joined by _. */
function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, warnings: string[]): void {
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith('REGISTRY_') || value === undefined) continue;
    const segments = variable.slice('REGISTRY_'.length).toLowerCase().split('_');
    let node: SchemaNode = schema as unknown as SchemaNode;
    let target: Record<string, unknown> = raw;
    const path: string[] = [];
    let matched = true;
    for (let i = 0; i < segments.length; i++) {
      const shape = unwrap(node)._zod.def.shape;
      if (!shape) {
        matched = false;
        break;
      }
      // Keys have no underscores except where Distribution has none either; join greedily.
      let key = segments[i];
      while (!(key in shape) && i + 1 < segments.length) key += `_${segments[++i]}`;
      if (!(key in shape)) {
        matched = false;
        break;
      }
      path.push(key);
      node = shape[key];
      if (i === segments.length - 1) {
        const leaf = unwrap(node)._zod.def.type;
        target[key] = leaf === 'string' ? value : parseYaml(value);
      } else {
        if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
    }
    if (!matched) warnings.push(`ignoring environment variable ${variable}: no such configuration key`);
  }
}

/** The keys the schema allows at a path of the raw config (array indexes step into the element). */
function keysAt(path: PropertyKey[]): string[] {
  let node: SchemaNode = schema as unknown as SchemaNode;
  for (const segment of path) {
    const def = unwrap(node)._zod.def as SchemaNode['_zod']['def'] & { element?: SchemaNode };
    if (typeof segment === 'number' && def.element) node = def.element;
    else if (def.shape && typeof segment === 'string' && segment in def.shape) node = def.shape[segment];
    else return [];
  }
  return Object.keys(unwrap(node)._zod.def.shape ?? {});
}

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key a misspelt one most likely meant: within 2 edits (1 for short keys), or a case slip. */
export function nearestKey(key: string, known: string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = candidate === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate);
    if (distance <= (key.length <= 4 ? 1 : 2) && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(issue.path);
    return issue.keys
      .map((k) => {
        const near = nearestKey(k, known);
        return `unknown key ${[...issue.path, k].join('.')}${near ? `; did you mean ${[...issue.path, near].join('.')}?` : ''}`;
      })
      .join('\n  ');
  }
  return `${where}: ${issue.message}`;
}

/** What `stowage serve --addr/--port/--data` set, over the file and the environment. */
export interface CommandLineSettings {
  addr?: string;
  port?: number;
  data?: string;
}

function applyCommandLine(raw: Record<string, unknown>, settings: CommandLineSettings, env: NodeJS.ProcessEnv): void {
  const section = (key: string): Record<string, unknown> => {
    if (typeof raw[key] !== 'object' || raw[key] === null) raw[key] = {};
    return raw[key] as Record<string, unknown>;
  };
  if (settings.addr !== undefined && settings.port !== undefined) throw new ConfigError('--addr and --port both set the listening address: give one');
  const http = raw.http as Record<string, unknown> | undefined;
  if (settings.addr !== undefined) {
    parseListenAddress(settings.addr);
    section('http').addr = settings.addr;
  } else if (settings.port !== undefined || (http?.addr === undefined && env.PORT)) {
    // --port keeps the host the config listens on; PORT (what platforms set) only fills a gap.
    const port = settings.port ?? Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(
        settings.port !== undefined ? `--port ${settings.port} is not a port (0-65535)` : `PORT=${env.PORT} is not a port (0-65535)`,
      );
    }
    const host = typeof http?.addr === 'string' ? parseListenAddress(http.addr).host : undefined;
    section('http').addr = `${host === undefined ? '' : host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  if (settings.data !== undefined) {
    const storage = section('storage');
    if (storage.s3 !== undefined) throw new ConfigError('--data sets storage.filesystem.rootdirectory, but this config stores in storage.s3');
    if (typeof storage.filesystem !== 'object' || storage.filesystem === null) storage.filesystem = {};
    (storage.filesystem as Record<string, unknown>).rootdirectory = settings.data;
  }
}

export interface LoadedConfig {
  config: RegistryConfig;
  warnings: string[];
  source: string;
}

/** Loads, overrides and validates the configuration. Throws ConfigError with every problem named. */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env, commandLine: CommandLineSettings = {}): LoadedConfig {
  let raw: unknown = {};
  const source = file ?? env.REGISTRY_CONFIGURATION_PATH ?? '(defaults)';
  const path = file ?? env.REGISTRY_CONFIGURATION_PATH;
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${path} must hold a YAML mapping`);
  }
  const warnings: string[] = [];
  const { REGISTRY_CONFIGURATION_PATH: _ignored, ...overrides } = env;
  applyEnvironment(raw as Record<string, unknown>, overrides, warnings);
  applyCommandLine(raw as Record<string, unknown>, commandLine, env);
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`invalid configuration (${source}):\n  ${result.error.issues.map(describeIssue).join('\n  ')}`);
  }
  return { config: result.data, warnings, source };
}

/** Builds a config from a partial object, for tests and embedding. */
export function configFrom(raw: unknown): RegistryConfig {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid configuration:\n  ${result.error.issues.map(describeIssue).join('\n  ')}`);
  return result.data;
}

/** host and port of http.addr (":5000", "127.0.0.1:5000", "[::1]:5000", "localhost:0"). */
export function parseListenAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new ConfigError(`http.addr "${addr}" is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`http.addr "${addr}" has an invalid port`);
  const host = m[1] ?? (m[2] || undefined);
  return { host, port };
}

export function storageRoot(config: RegistryConfig): string {
  return config.storage.filesystem?.rootdirectory ?? './data';
}

/**
 * The metadata database's URL: stowage.database.url, or an SQLite file beside the data (for S3
 * storage, under the local data directory: one process only, which start-up enforces).
 */
export function databaseUrl(config: RegistryConfig): string {
  return config.stowage.database.url ?? `sqlite:${join(storageRoot(config), 'stowage.db')}`;
}

function isDatabaseUrl(url: string): boolean {
  try {
    parseDatabaseUrl(url);
    return true;
  } catch {
    return false;
  }
}

/** Whether the config turns authentication on (auth.htpasswd or auth.token). */
export function authEnabled(config: RegistryConfig): boolean {
  return config.auth?.htpasswd !== undefined || config.auth?.token !== undefined;
}

/** The auth/ settings of a config. */
export function authSettingsFrom(config: RegistryConfig): AuthSettings {
  const { issuer, groups, access, loginlimit, admins } = config.stowage.auth;
  return {
    htpasswd: config.auth?.htpasswd,
    token: config.auth?.token,
    issuer: issuer && { htpasswd: issuer.htpasswd, key: issuer.key, expiryMs: issuer.expiryMs },
    groups,
    access,
    loginLimits: {
      attempts: loginlimit.attempts,
      windowMs: loginlimit.windowMs,
      lockoutMs: loginlimit.lockoutMs,
      concurrent: loginlimit.concurrent,
    },
    dataDirectory: config.storage.filesystem || !config.storage.s3 ? storageRoot(config) : undefined,
    admins,
  };
}
