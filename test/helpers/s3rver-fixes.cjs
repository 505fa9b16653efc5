// s3rver 3.7 is looser than S3 in ways that make a correct client fail; tests need S3's own
// semantics, so requiring this module replaces a few methods of s3rver's filesystem store (AWS S3
// and MinIO behave as patched). Plain JavaScript so that both the vitest helper (s3rver.ts) and
// the shell e2e (test/e2e/s3.sh, through `node`) load the same fixes.
// - A delimited listing stops one level below the prefix, so "p/a/b/x" never yields "p/a/".
// - PUT answers before the bytes are on disk and writes in place, so a reader can see a part;
//   CopyObject too writes in place.
// - A one-byte range "bytes=0-0" returns the whole object (end 0 is taken as absent).
// - DeleteObjects deletes in parallel and each delete prunes empty parent directories, so two
//   keys of one directory race and one answers 500.
// - CopyObject of a source deleted between its existence check and the copy answers 500, where
//   S3 answers NoSuchKey (404): garbage collection copies objects that writers move concurrently.
// - An object's metadata (metadata.json, object.md5) is rewritten in place, so a HEAD or GET
//   that races a copy onto itself (a touch) reads half a file and answers 500; S3 answers either
//   the old or the new metadata.
'use strict';

const { createHash, randomBytes } = require('node:crypto');
const { createReadStream, createWriteStream } = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');

const store = require('s3rver/lib/stores/filesystem.js').prototype;
const S3Error = require('s3rver/lib/models/error.js');
const S3Object = require('s3rver/lib/models/object.js');
const { pick, pickBy } = require('lodash');

/** A temp file inside the server's directory (same filesystem, so rename is atomic). */
async function tempFile(self) {
  const dir = path.join(self.rootDirectory, '.stowage-tmp');
  await fsp.mkdir(dir, { recursive: true });
  return path.join(dir, randomBytes(8).toString('hex'));
}

/** rename into place; s3rver prunes empty directories on delete, so a parent may vanish meanwhile. */
async function renameIntoPlace(temp, target) {
  for (let attempt = 0; ; attempt++) {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.rename(temp, target);
      return;
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

const listAll = store.listObjects;
store.listObjects = async function listObjects(bucket, options) {
  if (!options.delimiter) return listAll.call(this, bucket, options);
  const all = await listAll.call(this, bucket, { ...options, delimiter: undefined, maxKeys: Infinity });
  const prefix = options.prefix || '';
  const prefixes = new Set();
  const objects = all.objects.filter((object) => {
    const at = object.key.slice(prefix.length).indexOf(options.delimiter);
    if (at === -1) return true;
    prefixes.add(object.key.slice(0, prefix.length + at + 1));
    return false;
  });
  return { objects, commonPrefixes: [...prefixes].sort(), isTruncated: false };
};

store.putObject = async function putObject(object) {
  const target = this.getResourcePath(object.bucket, object.key, 'object');
  const temp = await tempFile(this);
  const md5 = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content || Readable.from([]);
  await pipeline(
    source,
    new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    createWriteStream(temp),
  );
  const digest = md5.digest('hex');
  await renameIntoPlace(temp, target);
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

const copyInPlace = store.copyObject;
store.copyObject = async function copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  if (srcBucket === destBucket && srcKey === destKey) return copyInPlace.call(this, srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  const temp = await tempFile(this);
  try {
    await fsp.copyFile(this.getResourcePath(srcBucket, srcKey, 'object'), temp);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
  }
  await renameIntoPlace(temp, this.getResourcePath(destBucket, destKey, 'object'));
  if (replacementMetadata) {
    await this.putMetadata(destBucket, destKey, replacementMetadata);
  } else {
    for (const resource of ['metadata.json', 'object.md5']) {
      const temp = await tempFile(this);
      const copied = await fsp.copyFile(this.getResourcePath(srcBucket, srcKey, resource), temp).then(
        () => true,
        () => false,
      );
      if (copied) await renameIntoPlace(temp, this.getResourcePath(destBucket, destKey, resource));
    }
  }
  return this.getMetadata(destBucket, destKey);
};

store.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
  const json = {
    ...pick(metadata, S3Object.ALLOWED_METADATA),
    ...pickBy(metadata, (_value, name) => name.startsWith('x-amz-meta-')),
  };
  if (md5) await writeAtomically(this, this.getResourcePath(bucket, key, 'object.md5'), md5);
  await writeAtomically(this, this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(json, null, 2));
};

async function writeAtomically(self, target, content) {
  const temp = await tempFile(self);
  await fsp.writeFile(temp, content);
  await renameIntoPlace(temp, target);
}

store.deleteObject = async function deleteObject(bucket, key) {
  for (const resource of ['object', 'object.md5', 'metadata.json']) await fsp.rm(this.getResourcePath(bucket, key, resource), { force: true });
  const parts = key.split('/').slice(0, -1);
  for (; parts.length > 0; parts.pop()) {
    // Stops at the first directory that is not empty (or already gone).
    const removed = await fsp.rmdir(path.join(this.getBucketPath(bucket), ...parts)).then(
      () => true,
      () => false,
    );
    if (!removed) break;
  }
};

const getObject = store.getObject;
store.getObject = async function getObjectWithRange(bucket, key, options) {
  const object = await getObject.call(this, bucket, key, options);
  if (object && object.content instanceof Readable && options && options.end === 0 && (options.start || 0) === 0) {
    object.content.destroy();
    object.content = createReadStream(this.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
    object.range = { start: 0, end: 0 };
  }
  return object;
};

module.exports = { S3rver: require('s3rver') };
