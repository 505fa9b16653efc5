// deploy/compose.yaml cannot run here (no images), so it is checked as data: well-formed YAML with
// the four services wired in order, and the stowage service's environment, read exactly as
// `stowage serve` reads it, yields an S3 configuration on the bucket the one-shot service creates
// and a metadata database on the PostgreSQL service, which replicas can share.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { databaseUrl, loadConfig } from '../../server/config.js';
import { parseDatabaseUrl } from '../../storage/metadata/database.js';
import { s3DriverOptions } from '../../storage/drivers/s3/s3-driver.js';

const COMPOSE_PATH = fileURLToPath(new URL('../../deploy/compose.yaml', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}

/** Compose's ${VAR:-default} interpolation with no variables set, and $$ as a literal $. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{(\w+):-([^}]*)\}/g, (match, _name: string, fallback: string) => (match === '$$' ? '$' : fallback));
}

describe('deploy/compose.yaml', () => {
  const text = readFileSync(COMPOSE_PATH, 'utf8');
  const compose = parse(text) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const services = compose.services;

  it('is well-formed YAML without duplicate keys', () => {
    const document = parseDocument(text, { uniqueKeys: true });
    expect(document.errors).toEqual([]);
    expect(Object.keys(services).sort()).toEqual(['create-bucket', 'minio', 'postgres', 'stowage']);
  });

  it('starts stowage only after MinIO is healthy and the bucket exists', () => {
    expect(services.minio.image).toMatch(/^minio\/minio/);
    expect(services['create-bucket'].image).toMatch(/^minio\/mc/);
    expect(services['create-bucket'].depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    expect(services.stowage.depends_on).toEqual({
      'create-bucket': { condition: 'service_completed_successfully' },
      postgres: { condition: 'service_healthy' },
    });
    expect(services.stowage.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    expect(Object.keys(compose.volumes).sort()).toEqual(['minio-data', 'postgres-data']);
    expect(services.postgres.image).toMatch(/^postgres:/);
    expect(services.postgres.healthcheck?.test).toContain('pg_isready');
    expect(services.postgres.volumes).toContain('postgres-data:/var/lib/postgresql/data');
  });

  it('configures stowage on the bucket the one-shot service creates, with the same credentials', () => {
    const env = Object.fromEntries(Object.entries(services.stowage.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
    const { config, warnings } = loadConfig(undefined, env);
    expect(warnings).toEqual([]);
    expect(config.storage.filesystem).toBeUndefined();
    const s3 = config.storage.s3!;
    const made = /mc mb --ignore-existing local\/(\S+)/.exec(services['create-bucket'].command!.join(' '));
    expect(made?.[1]).toBe(s3.bucket);
    const minioEnv = services.minio.environment!;
    expect(s3.accesskey).toBe(interpolate(minioEnv.MINIO_ROOT_USER));
    expect(s3.secretkey).toBe(interpolate(minioEnv.MINIO_ROOT_PASSWORD));
    const options = s3DriverOptions(s3, {});
    expect(options).toMatchObject({ endPoint: 'minio', port: 9000, useSSL: false, pathStyle: true, rootDirectory: 'stowage' });
    expect(config.http.addr).toBe(':5000');
    expect(services.stowage.ports).toContain('5000:5000');
  });

  it('gives stowage the PostgreSQL service as its metadata database, with the user, password and database it creates', () => {
    const env = Object.fromEntries(Object.entries(services.stowage.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
    const { config } = loadConfig(undefined, env);
    const url = databaseUrl(config);
    expect(parseDatabaseUrl(url).dialect).toBe('postgres');
    const postgres = new URL(url);
    const postgresEnv = Object.fromEntries(Object.entries(services.postgres.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
    expect(postgres.hostname).toBe('postgres');
    expect(postgres.port).toBe('5432');
    expect(postgres.username).toBe(postgresEnv.POSTGRES_USER);
    expect(decodeURIComponent(postgres.password)).toBe(postgresEnv.POSTGRES_PASSWORD);
    expect(postgres.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`);
  });
});
