// storage.s3 in Distribution's shape: what the config accepts and refuses, and how the settings
// plus the AWS environment variables become the driver's connection options.
import { describe, expect, it } from 'vitest';
import { ConfigError, configFrom, loadConfig } from '../../server/config.js';
import { s3DriverOptions } from '../../storage/drivers/s3/s3-driver.js';

describe('storage.s3 configuration', () => {
  it('accepts a registry:2 S3 section, including keys stowage does not act on', () => {
    const config = configFrom({
      storage: {
        s3: {
          region: 'eu-west-1',
          bucket: 'images',
          accesskey: 'AKIA',
          secretkey: 'secret',
          rootdirectory: '/registry',
          v4auth: true,
          encrypt: false,
          secure: true,
          chunksize: 10485760,
          storageclass: 'STANDARD',
          multipartcopythresholdsize: 33554432,
        },
      },
    });
    expect(config.storage.s3).toMatchObject({ region: 'eu-west-1', bucket: 'images', rootdirectory: '/registry' });
  });

  it('refuses both storage.filesystem and storage.s3', () => {
    expect(() => configFrom({ storage: { filesystem: { rootdirectory: '/data' }, s3: { bucket: 'b' } } })).toThrow(
      /set exactly one of storage\.filesystem and storage\.s3/,
    );
  });

  it('refuses an S3 section without a bucket, naming the key', () => {
    expect(() => configFrom({ storage: { s3: { region: 'us-east-1' } } })).toThrow(ConfigError);
    expect(() => configFrom({ storage: { s3: { region: 'us-east-1' } } })).toThrow(/storage\.s3\.bucket/);
  });

  it("refuses a chunk size below S3's 5 MiB part minimum", () => {
    expect(() => configFrom({ storage: { s3: { bucket: 'b', chunksize: 1024 } } })).toThrow(/storage\.s3\.chunksize: must be at least 5242880/);
  });

  it('takes every key from REGISTRY_STORAGE_S3_* variables', () => {
    const { config } = loadConfig(undefined, {
      REGISTRY_STORAGE_S3_BUCKET: 'from-env',
      REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9000',
      REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
      REGISTRY_STORAGE_S3_CHUNKSIZE: '6291456',
    });
    expect(config.storage.s3).toEqual({ bucket: 'from-env', regionendpoint: 'http://127.0.0.1:9000', forcepathstyle: true, chunksize: 6291456 });
  });
});

describe('S3 connection options', () => {
  it('fills credentials and region from the AWS environment, and defaults to AWS S3 over TLS', () => {
    const options = s3DriverOptions(
      { bucket: 'b' },
      { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'key', AWS_REGION: 'eu-central-1', AWS_SESSION_TOKEN: 'tok' },
    );
    expect(options).toMatchObject({
      endPoint: 's3.amazonaws.com',
      useSSL: true,
      region: 'eu-central-1',
      accessKey: 'id',
      secretKey: 'key',
      sessionToken: 'tok',
      pathStyle: false,
      rootDirectory: '',
      partSize: 10 * 1024 * 1024,
    });
  });

  it('prefers the config file to the environment', () => {
    const options = s3DriverOptions(
      { bucket: 'b', accesskey: 'file-id', secretkey: 'file-key', region: 'us-west-2' },
      { AWS_ACCESS_KEY_ID: 'env', AWS_SECRET_ACCESS_KEY: 'env', AWS_REGION: 'eu-central-1' },
    );
    expect(options).toMatchObject({ accessKey: 'file-id', secretKey: 'file-key', region: 'us-west-2' });
  });

  it('reads TLS from the endpoint scheme, else from secure, and uses path-style addressing for custom endpoints', () => {
    const creds = { accesskey: 'a', secretkey: 's' };
    expect(s3DriverOptions({ bucket: 'b', regionendpoint: 'http://minio:9000', ...creds }, {})).toMatchObject({
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      pathStyle: true,
    });
    expect(s3DriverOptions({ bucket: 'b', regionendpoint: 'https://s3.example.com', ...creds }, {})).toMatchObject({
      endPoint: 's3.example.com',
      port: undefined,
      useSSL: true,
    });
    expect(s3DriverOptions({ bucket: 'b', regionendpoint: 'minio.lan:9000', secure: false, ...creds }, {})).toMatchObject({
      endPoint: 'minio.lan',
      port: 9000,
      useSSL: false,
    });
    expect(s3DriverOptions({ bucket: 'b', regionendpoint: 'http://minio:9000', forcepathstyle: false, ...creds }, {}).pathStyle).toBe(false);
    expect(s3DriverOptions({ bucket: 'b', rootdirectory: '//a/b/', ...creds }, {}).rootDirectory).toBe('a/b');
  });

  it('says which credentials are missing', () => {
    expect(() => s3DriverOptions({ bucket: 'b', accesskey: 'only-id' }, {})).toThrow(
      'storage.s3 needs credentials: accesskey and secretkey, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
  });
});
