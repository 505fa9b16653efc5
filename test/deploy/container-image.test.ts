// deploy/Dockerfile, .dockerignore and deploy/config.yml agree with each other and with the code:
// what the image copies exists and is in the build context, the port, volume, config path and
// health check match the server, and it runs unprivileged. test/e2e/container.sh builds and runs it.
import { existsSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseUrl, loadConfig, parseListenAddress } from '../../server/config.js';
import { OPS_ROUTES } from '../../server/routes/ops.js';
import { ROOT, execForm, instructionsOf, isInBuildContext, parseCopy, parseDockerfile, readRepoFile } from './deploy-files.js';

const dockerfile = parseDockerfile(readRepoFile('deploy/Dockerfile'));
const dockerignore = readRepoFile('.dockerignore');
const final = dockerfile.stages[dockerfile.stages.length - 1];
const envOf = (stage: typeof final): Record<string, string> =>
  Object.fromEntries(
    instructionsOf(stage, 'ENV').flatMap((args) => [...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2].replace(/^"|"$/g, '')])),
  );
/** docker stop's default grace period: the image's config must drain within it. */
const DOCKER_STOP_GRACE_MS = 10_000;

describe('deploy/Dockerfile', () => {
  it('builds every stage on the base the NODE_IMAGE argument names, node:20-slim by default', () => {
    expect(dockerfile.globalArgs).toContainEqual({ keyword: 'ARG', args: 'NODE_IMAGE=node:20-slim' });
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerfile.stages) expect(stage.from).toBe('${NODE_IMAGE}');
  });

  it('compiles with every dependency in one stage and installs production dependencies only for the final one', () => {
    const build = dockerfile.stages.find((s) => instructionsOf(s, 'RUN').some((r) => r.includes('npm run build')));
    expect(build?.name).toBeDefined();
    expect(instructionsOf(build!, 'RUN').join(' ')).toMatch(/npm ci --ignore-scripts/);
    const runs = dockerfile.stages.flatMap((s) => instructionsOf(s, 'RUN'));
    const productionInstall = runs.find((r) => r.includes('--omit=dev'));
    // package.json's prepare script runs tsc, which a production install does not have.
    expect(productionInstall).toMatch(/npm ci --omit=dev --ignore-scripts/);
    const copiedFromStages = instructionsOf(final, 'COPY')
      .map(parseCopy)
      .filter((c) => c.from);
    const stageNames = dockerfile.stages.map((s) => s.name);
    for (const copy of copiedFromStages) expect(stageNames).toContain(copy.from);
    expect(copiedFromStages.map((c) => c.sources[0])).toEqual(expect.arrayContaining([`/src/dist`, '/app/node_modules']));
    expect(instructionsOf(final, 'RUN')).toEqual([]);
  });

  it('builds the web UI in the build stage and ships it in dist/ with the server', () => {
    const build = dockerfile.stages.find((s) => instructionsOf(s, 'RUN').some((r) => r.includes('npm run build')))!;
    const copies = instructionsOf(build, 'COPY').map(parseCopy);
    const ui = copies.findIndex((c) => c.sources.includes('ui'));
    // The bundler and the loader it writes as dist/stowage.mjs.
    const bundler = copies.findIndex((c) => c.sources.includes('scripts/bundle.mjs') && c.sources.includes('scripts/stowage-loader.mjs'));
    expect(ui).toBeGreaterThanOrEqual(0);
    expect(copies[ui].destination).toBe('./ui');
    expect(bundler).toBeGreaterThanOrEqual(0);
    // npm run build runs scripts/bundle.mjs, whose default run writes dist/ui/ too.
    expect(readRepoFile('package.json')).toMatch(/"build": "[^"]*node scripts\/bundle.mjs"/);
    expect(readRepoFile('scripts/bundle.mjs')).toMatch(/await bundleUi\(\);/);
    const dist = instructionsOf(final, 'COPY')
      .map(parseCopy)
      .find((c) => c.sources.includes('/src/dist'));
    expect(dist?.from).toBe(build.name);
    expect(dist?.destination).toBe('./dist');
    // The server finds dist/ui beside the package.json the final stage has (server/version.ts).
    expect(
      instructionsOf(final, 'COPY')
        .map(parseCopy)
        .some((c) => c.sources.includes('package.json') && !c.from),
    ).toBe(true);
  });

  it('builds better-sqlite3 from its sources in the stage that installs the production dependencies, with a compiler only that stage has', () => {
    const deps = dockerfile.stages.find((s) => instructionsOf(s, 'RUN').some((r) => r.includes('--omit=dev')))!;
    const copied = instructionsOf(final, 'COPY')
      .map(parseCopy)
      .find((c) => c.sources.includes('/app/node_modules'));
    expect(copied?.from).toBe(deps.name);
    const runs = instructionsOf(deps, 'RUN');
    const toolchain = runs.findIndex((r) => /apt-get install .*python3 make g\+\+/.test(r));
    const install = runs.findIndex((r) => r.includes('--omit=dev'));
    expect(toolchain).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(toolchain);
    // From source, against the headers node comes with: nothing downloaded but npm packages.
    expect(runs[install]).toMatch(/npm --prefix node_modules\/better-sqlite3 run build-release --nodedir=\/usr\/local/);
    expect(runs[install]).toContain("require('/app/node_modules/better-sqlite3')");
    expect(readRepoFile('storage/metadata/database.ts')).toMatch(/requireHere\('better-sqlite3'\)/);
  });

  it('works in the data volume: relative paths, the default database of a registry:2 S3 config included, land in it', () => {
    const workdirs = instructionsOf(final, 'WORKDIR');
    const volume = execForm(instructionsOf(final, 'VOLUME')[0])[0];
    expect(workdirs[workdirs.length - 1]).toBe(volume);
    const { config } = loadConfig(undefined, { REGISTRY_STORAGE_S3_BUCKET: 'registry', REGISTRY_STORAGE_S3_REGION: 'us-east-1' });
    const file = databaseUrl(config).replace(/^sqlite:/, '');
    expect(posix.resolve(volume, file).startsWith(`${volume}/`)).toBe(true);
    // deploy/config.yml's filesystem storage keeps it beside the data, in the volume too.
    const { config: image } = loadConfig(join(ROOT, 'deploy/config.yml'), {});
    expect(databaseUrl(image)).toBe(`sqlite:${volume}/stowage.db`);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const fromContext = dockerfile.stages.flatMap((s) => instructionsOf(s, 'COPY').map(parseCopy)).filter((c) => !c.from);
    const sources = fromContext.flatMap((c) => c.sources);
    expect(sources).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'server', 'storage', 'auth', 'deploy/config.yml']),
    );
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(isInBuildContext(source, dockerignore), `${source} in the build context`).toBe(true);
      if (statSync(join(ROOT, source)).isDirectory()) expect(isInBuildContext(`${source}/any.ts`, dockerignore), `${source}/*`).toBe(true);
    }
    for (const kept of ['node_modules', 'dist', 'data', '.git', 'test', 'bench', '.e2e']) {
      expect(isInBuildContext(kept, dockerignore), `${kept} kept out of the build context`).toBe(false);
    }
  });

  it('runs the compiled CLI as a numeric non-root user, with serve as the default command', () => {
    const [user] = instructionsOf(final, 'USER');
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const entrypoint = execForm(instructionsOf(final, 'ENTRYPOINT')[0]);
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toBe('/app/dist/stowage.mjs');
    expect(readRepoFile('scripts/bundle.mjs')).toContain("const loader = join(root, 'dist/stowage.mjs');");
    expect(existsSync(join(ROOT, 'server/cli.ts'))).toBe(true);
    expect(readRepoFile('tsconfig.json')).toMatch(/"outDir":\s*"dist"/);
    expect(execForm(instructionsOf(final, 'CMD')[0])).toEqual(['serve']);
    expect(readRepoFile('server/cli.ts')).toContain(".command('serve')");
  });

  it('exposes the port of the default config, keeps its data directory in a volume owned by that user', () => {
    const env = envOf(final);
    const configCopy = instructionsOf(final, 'COPY')
      .map(parseCopy)
      .find((c) => c.sources.includes('deploy/config.yml'));
    expect(configCopy?.destination).toBe(env.REGISTRY_CONFIGURATION_PATH);
    const { config } = loadConfig(join(ROOT, 'deploy/config.yml'), {});
    expect(instructionsOf(final, 'EXPOSE')).toEqual([String(parseListenAddress(config.http.addr).port)]);
    expect(parseListenAddress(config.http.addr).port).toBe(5000);
    const root = config.storage.filesystem?.rootdirectory;
    expect(root).toBe('/var/lib/registry');
    expect(execForm(instructionsOf(final, 'VOLUME')[0])).toEqual([root]);
    const dataCopy = instructionsOf(final, 'COPY')
      .map(parseCopy)
      .find((c) => c.destination === root);
    expect(dataCopy?.chown).toBe(instructionsOf(final, 'USER')[0]);
  });

  it('asks GET /healthz, a route the server has, without curl', () => {
    const healthcheck = instructionsOf(final, 'HEALTHCHECK')[0];
    const command = execForm(healthcheck.slice(healthcheck.indexOf('CMD')));
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain("path: '/healthz'");
    expect(OPS_ROUTES).toContainEqual({ method: 'GET', path: '/healthz' });
  });
});

describe('deploy/config.yml', () => {
  it("is a valid configuration that drains in-flight requests within docker stop's grace period", () => {
    const { config, warnings } = loadConfig(join(ROOT, 'deploy/config.yml'), {});
    expect(warnings).toEqual([]);
    expect(config.http.draintimeoutMs).toBeDefined();
    expect(config.http.draintimeoutMs).toBeLessThan(DOCKER_STOP_GRACE_MS);
  });

  it('takes REGISTRY_ overrides the way deploy/README.md shows', () => {
    const { config } = loadConfig(join(ROOT, 'deploy/config.yml'), {
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/srv/registry',
      REGISTRY_LOG_LEVEL: 'debug',
    });
    expect(config.storage.filesystem?.rootdirectory).toBe('/srv/registry');
    expect(config.log.level).toBe('debug');
  });
});
