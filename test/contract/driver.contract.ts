// The StorageDriver contract (storage/drivers/driver.ts), written once and run by every driver with its
// own factory, as distribution's driver/testsuites is. Nothing here asks which driver it has:
// a backend's quirks (no rename, no append) must be hidden inside the driver.
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { NotFoundError } from '../../storage/errors.js';
import type { DriverBackend, DriverFactory } from '../helpers/drivers.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** A source that yields the chunks, then fails: a client that dies mid-transfer. */
function failingSource(chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) yield chunk;
      throw new Error('source failed');
    })(),
  );
}

/** Objects of the backing store (directories left out: they are not objects). */
async function objects(backend: DriverBackend): Promise<Map<string, string>> {
  const all = await backend.snapshot();
  return new Map([...all].filter(([key]) => !key.endsWith('/')));
}

const BAD_KEYS = ['', '..', '../escape', 'a/../../escape', 'a/./b', '/absolute', '/etc/passwd', 'a//b', 'a/', 'a/b/', 'a\\b', 'a\0b', 'a b'];

export function describeDriverContract(factory: DriverFactory): void {
  describe(`StorageDriver contract (${factory.name})`, () => {
    let backend: DriverBackend;
    let driver: StorageDriver;

    beforeEach(async () => {
      backend = await factory.create();
      driver = backend.driver();
    });

    afterEach(async () => {
      await backend.cleanup();
    });

    async function write(key: string, chunks: Buffer[], options: { append?: boolean } = {}): Promise<void> {
      const writer = await driver.writer(key, options);
      await pipeline(Readable.from(chunks), writer.stream);
      await writer.commit();
    }

    describe('stat', () => {
      it('gives the size and modification time of an object', async () => {
        const before = Date.now();
        await driver.putContent('a/b/object', Buffer.from('hello'));
        const info = await driver.stat('a/b/object');
        expect(info.size).toBe(5);
        expect(info.modifiedAt).toBeInstanceOf(Date);
        expect(info.modifiedAt.getTime()).toBeGreaterThan(before - 5000);
        expect(info.modifiedAt.getTime()).toBeLessThan(Date.now() + 5000);
      });

      it('gives size 0 for an empty object', async () => {
        await driver.putContent('empty', Buffer.alloc(0));
        expect((await driver.stat('empty')).size).toBe(0);
      });

      it('throws NotFoundError for an absent key', async () => {
        await expect(driver.stat('no/such/key')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('throws NotFoundError for a prefix that holds objects but is not one', async () => {
        await driver.putContent('dir/child', 'x');
        await expect(driver.stat('dir')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('read', () => {
      const content = Buffer.from('0123456789abcdefghij');

      beforeEach(async () => {
        await driver.putContent('r/object', content);
      });

      it('streams the whole object', async () => {
        expect(await readAll(await driver.read('r/object'))).toEqual(content);
      });

      it('streams an inclusive range from the middle', async () => {
        expect((await readAll(await driver.read('r/object', { start: 3, end: 7 }))).toString()).toBe('34567');
      });

      it('streams a range that ends on the last byte', async () => {
        expect((await readAll(await driver.read('r/object', { start: 15, end: 19 }))).toString()).toBe('fghij');
      });

      it('streams a one-byte range', async () => {
        expect((await readAll(await driver.read('r/object', { start: 0, end: 0 }))).toString()).toBe('0');
      });

      it('streams a large object intact', async () => {
        const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
        big.write('start', 0);
        big.write('end', big.length - 3);
        await driver.putContent('r/big', big);
        expect((await readAll(await driver.read('r/big'))).equals(big)).toBe(true);
        const tail = await readAll(await driver.read('r/big', { start: big.length - 10, end: big.length - 1 }));
        expect(tail.equals(big.subarray(big.length - 10))).toBe(true);
      });

      it('throws NotFoundError for an absent key', async () => {
        await expect(driver.read('r/missing')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('copyTo', () => {
      /** A destination that keeps what it is given, slowly, the way a socket takes bytes. */
      function collector(delayMs = 0): { sink: Writable; bytes: () => Buffer } {
        const chunks: Buffer[] = [];
        const sink = new Writable({
          highWaterMark: 16 * 1024,
          write(chunk: Buffer, _encoding, callback) {
            // Copy: a driver may reuse the buffer it wrote once the callback has run.
            chunks.push(Buffer.from(chunk));
            setTimeout(callback, delayMs);
          },
        });
        return { sink, bytes: () => Buffer.concat(chunks) };
      }

      it('writes the whole object and resolves with its size, leaving the destination open', async () => {
        const big = Buffer.alloc(2 * 1024 * 1024 + 5);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
        await driver.putContent('c/big', big);
        const { sink, bytes } = collector(1);
        expect(await driver.copyTo('c/big', sink)).toBe(big.length);
        expect(sink.writableEnded).toBe(false);
        expect(bytes().equals(big)).toBe(true);
      });

      it('writes an inclusive range', async () => {
        await driver.putContent('c/object', '0123456789');
        const { sink, bytes } = collector();
        expect(await driver.copyTo('c/object', sink, { start: 2, end: 5 })).toBe(4);
        expect(bytes().toString()).toBe('2345');
      });

      it('throws NotFoundError for an absent key and writes nothing', async () => {
        const { sink, bytes } = collector();
        await expect(driver.copyTo('c/missing', sink)).rejects.toBeInstanceOf(NotFoundError);
        expect(bytes().length).toBe(0);
      });

      it('rejects when the destination closes part way', async () => {
        await driver.putContent('c/large', Buffer.alloc(4 * 1024 * 1024, 1));
        const { sink } = collector(2);
        setTimeout(() => sink.destroy(), 20);
        await expect(driver.copyTo('c/large', sink)).rejects.toThrow();
      });
    });

    describe('getContent and putContent', () => {
      it('returns what was put, from a string or a Buffer', async () => {
        await driver.putContent('c/string', 'text ✓');
        await driver.putContent('c/buffer', Buffer.from([0, 1, 2, 255]));
        expect((await driver.getContent('c/string')).toString('utf8')).toBe('text ✓');
        expect(await driver.getContent('c/buffer')).toEqual(Buffer.from([0, 1, 2, 255]));
      });

      it('creates the parents of a deep key', async () => {
        await driver.putContent('deep/er/and/deeper/key', 'x');
        expect((await driver.getContent('deep/er/and/deeper/key')).toString()).toBe('x');
      });

      it('replaces existing content, including with shorter content', async () => {
        await driver.putContent('c/replace', 'a long first version');
        await driver.putContent('c/replace', 'short');
        expect((await driver.getContent('c/replace')).toString()).toBe('short');
        expect((await driver.stat('c/replace')).size).toBe(5);
      });

      it('never lets a reader see part of a replacement', async () => {
        const size = 512 * 1024;
        const versions = [Buffer.alloc(size, 'a'), Buffer.alloc(size, 'b')];
        await driver.putContent('c/atomic', versions[0]);
        const writes = (async () => {
          for (let i = 1; i <= 20; i++) await driver.putContent('c/atomic', versions[i % 2]);
        })();
        const seen: string[] = [];
        for (let i = 0; i < 40; i++) {
          const got = await driver.getContent('c/atomic');
          const whole = versions.some((v) => v.equals(got));
          seen.push(whole ? 'whole' : `partial:${got.length}`);
        }
        await writes;
        expect(seen.filter((s) => s !== 'whole')).toEqual([]);
      });

      it('leaves no temporary objects behind', async () => {
        await driver.putContent('c/clean', 'one');
        await driver.putContent('c/clean', 'two');
        expect(await driver.list('c')).toEqual(['clean']);
        expect([...(await objects(backend)).keys()].filter((k) => k.includes('clean'))).toHaveLength(1);
      });

      it('throws NotFoundError from getContent for an absent key', async () => {
        await expect(driver.getContent('c/missing')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('writer (plain)', () => {
      it('makes nothing visible before commit and everything after', async () => {
        const writer = await driver.writer('w/object');
        await pipeline(Readable.from([Buffer.from('abc'), Buffer.from('def')]), writer.stream);
        await expect(driver.stat('w/object')).rejects.toBeInstanceOf(NotFoundError);
        expect(await driver.list('w')).toEqual([]);
        await writer.commit();
        expect((await driver.getContent('w/object')).toString()).toBe('abcdef');
        expect(await driver.list('w')).toEqual(['object']);
      });

      it('keeps serving the previous object until commit, then replaces it', async () => {
        await driver.putContent('w/object', 'old');
        const writer = await driver.writer('w/object');
        await pipeline(Readable.from([Buffer.from('new content')]), writer.stream);
        expect((await driver.getContent('w/object')).toString()).toBe('old');
        await writer.commit();
        expect((await driver.getContent('w/object')).toString()).toBe('new content');
      });

      it('leaves nothing behind when aborted after a failed write', async () => {
        const before = await objects(backend);
        const writer = await driver.writer('w/aborted');
        await expect(pipeline(failingSource([Buffer.from('partial')]), writer.stream)).rejects.toThrow('source failed');
        await writer.abort();
        await expect(driver.stat('w/aborted')).rejects.toBeInstanceOf(NotFoundError);
        expect(await driver.list('w')).toEqual([]);
        expect(await objects(backend)).toEqual(before);
      });

      it('leaves nothing visible when the writer dies mid-stream without abort (a killed process)', async () => {
        await driver.putContent('w/kept', 'previous');
        const writer = await driver.writer('w/kept');
        const dead = await driver.writer('w/never');
        for (const w of [writer, dead]) {
          await new Promise<void>((resolve, reject) => w.stream.write(Buffer.alloc(64 * 1024, 1), (err) => (err ? reject(err) : resolve())));
          w.stream.destroy();
        }
        const restarted = backend.driver();
        await expect(restarted.stat('w/never')).rejects.toBeInstanceOf(NotFoundError);
        expect((await restarted.getContent('w/kept')).toString()).toBe('previous');
        expect(await restarted.list('w')).toEqual(['kept']);
        await restarted.check();
        expect(await restarted.list('w')).toEqual(['kept']);
      });

      it('keeps the previous object when aborted', async () => {
        await driver.putContent('w/kept', 'previous');
        const before = await objects(backend);
        const writer = await driver.writer('w/kept');
        await expect(pipeline(failingSource([Buffer.from('replacement')]), writer.stream)).rejects.toThrow('source failed');
        await writer.abort();
        expect((await driver.getContent('w/kept')).toString()).toBe('previous');
        expect(await objects(backend)).toEqual(before);
      });

      it('writes a multi-megabyte stream intact', async () => {
        const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100 * 1024, i));
        await write('w/big', chunks);
        expect((await driver.stat('w/big')).size).toBe(40 * 100 * 1024);
        expect((await readAll(await driver.read('w/big'))).equals(Buffer.concat(chunks))).toBe(true);
      });
    });

    describe('writer (append)', () => {
      it('creates the object when absent', async () => {
        await write('a/log', [Buffer.from('first')], { append: true });
        expect((await driver.getContent('a/log')).toString()).toBe('first');
      });

      it('appends bytes across writers, and stat gives the total size', async () => {
        await write('a/log', [Buffer.from('abc')], { append: true });
        await write('a/log', [Buffer.from('def'), Buffer.from('gh')], { append: true });
        await write('a/log', [Buffer.from('i')], { append: true });
        expect((await driver.getContent('a/log')).toString()).toBe('abcdefghi');
        expect((await driver.stat('a/log')).size).toBe(9);
      });

      it('appends after content put with putContent', async () => {
        await driver.putContent('a/log', Buffer.alloc(0));
        await write('a/log', [Buffer.from('xyz')], { append: true });
        expect((await driver.getContent('a/log')).toString()).toBe('xyz');
      });

      it('after a failed append, keeps the earlier bytes and stat matches what can be read', async () => {
        await write('a/log', [Buffer.from('kept')], { append: true });
        const writer = await driver.writer('a/log', { append: true });
        await expect(pipeline(failingSource([Buffer.from('lost?')]), writer.stream)).rejects.toThrow('source failed');
        await writer.abort();
        const content = await driver.getContent('a/log');
        expect(content.subarray(0, 4).toString()).toBe('kept');
        expect('kept' + 'lost?').toContain(content.toString());
        expect((await driver.stat('a/log')).size).toBe(content.length);
      });
    });

    describe('list', () => {
      it('names the direct children of a prefix, objects and sub-prefixes, sorted', async () => {
        for (const key of ['p/zeta', 'p/alpha/deep/x', 'p/Beta', 'p/m', 'p/m2/y', 'other/q']) await driver.putContent(key, 'x');
        expect(await driver.list('p')).toEqual(['Beta', 'alpha', 'm', 'm2', 'zeta']);
        expect(await driver.list('p/alpha')).toEqual(['deep']);
      });

      it('lists names that contain ".tmp-" like any other (the name and tag grammar allows them)', async () => {
        for (const key of ['t/app.tmp-cache/x', 't/release.tmp-1', 't/data.tmp-0123456789ab']) await driver.putContent(key, 'x');
        const writer = await driver.writer('t/pending.tmp-2');
        await pipeline(Readable.from([Buffer.from('y')]), writer.stream);
        await writer.commit();
        expect(await driver.list('t')).toEqual(['app.tmp-cache', 'data.tmp-0123456789ab', 'pending.tmp-2', 'release.tmp-1']);
        expect((await driver.getContent('t/release.tmp-1')).toString()).toBe('x');
      });

      it('returns [] for an absent prefix', async () => {
        expect(await driver.list('nothing/here')).toEqual([]);
      });

      it('hides the temporary objects of writes in flight', async () => {
        await driver.putContent('t/existing', 'x');
        const writer = await driver.writer('t/pending');
        await new Promise<void>((resolve, reject) => writer.stream.write(Buffer.from('in flight'), (err) => (err ? reject(err) : resolve())));
        expect(await driver.list('t')).toEqual(['existing']);
        writer.stream.destroy();
        await writer.abort();
        expect(await driver.list('t')).toEqual(['existing']);
      });
    });

    describe('move', () => {
      it('moves an object to a new key, creating parents, and the old key is gone', async () => {
        await driver.putContent('m/source', 'payload');
        await driver.move('m/source', 'm/far/away/target');
        expect((await driver.getContent('m/far/away/target')).toString()).toBe('payload');
        await expect(driver.stat('m/source')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('replaces what is at the target', async () => {
        await driver.putContent('m/source', 'new');
        await driver.putContent('m/target', 'old and longer');
        await driver.move('m/source', 'm/target');
        expect((await driver.getContent('m/target')).toString()).toBe('new');
      });

      it('moves a committed writer object intact', async () => {
        const chunks = [Buffer.alloc(300 * 1024, 1), Buffer.alloc(300 * 1024, 2)];
        await write('m/upload', chunks, { append: true });
        await driver.move('m/upload', 'm/blob');
        expect((await readAll(await driver.read('m/blob'))).equals(Buffer.concat(chunks))).toBe(true);
      });

      it('throws NotFoundError when the source is absent, and creates nothing', async () => {
        const before = await objects(backend);
        await expect(driver.move('m/missing', 'm/target')).rejects.toBeInstanceOf(NotFoundError);
        await expect(driver.stat('m/target')).rejects.toBeInstanceOf(NotFoundError);
        expect(await objects(backend)).toEqual(before);
      });
    });

    describe('delete', () => {
      it('deletes an object', async () => {
        await driver.putContent('d/object', 'x');
        await driver.delete('d/object');
        await expect(driver.stat('d/object')).rejects.toBeInstanceOf(NotFoundError);
        expect(await driver.list('d')).toEqual([]);
      });

      it('deletes everything under a prefix and nothing beside it', async () => {
        for (const key of ['d/tree/a', 'd/tree/b/c', 'd/tree/b/d/e', 'd/treehouse', 'd/tree2/x']) await driver.putContent(key, 'x');
        await driver.delete('d/tree');
        expect(await driver.list('d/tree')).toEqual([]);
        await expect(driver.stat('d/tree/b/c')).rejects.toBeInstanceOf(NotFoundError);
        expect(await driver.list('d')).toEqual(['tree2', 'treehouse']);
        expect((await driver.getContent('d/treehouse')).toString()).toBe('x');
      });

      it('does not fail when the key is absent', async () => {
        await expect(driver.delete('d/never/was')).resolves.toBeUndefined();
      });
    });

    describe('check', () => {
      it('succeeds on usable storage, before and after writes', async () => {
        await expect(driver.check()).resolves.toBeUndefined();
        await driver.putContent('k', 'x');
        await expect(driver.check()).resolves.toBeUndefined();
      });
    });

    describe('keys', () => {
      it.each(BAD_KEYS)('refuses the key %j in every method and writes nothing', async (key) => {
        await driver.putContent('safe/object', 'x');
        const before = await backend.snapshot();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['stat', () => driver.stat(key)],
          ['read', () => driver.read(key)],
          ['copyTo', () => driver.copyTo(key, new PassThrough())],
          ['getContent', () => driver.getContent(key)],
          ['putContent', () => driver.putContent(key, 'evil')],
          ['writer', () => driver.writer(key)],
          ['writer append', () => driver.writer(key, { append: true })],
          ['list', () => driver.list(key)],
          ['move from', () => driver.move(key, 'safe/moved')],
          ['move to', () => driver.move('safe/object', key)],
          ['delete', () => driver.delete(key)],
        ];
        for (const [method, call] of calls) {
          const outcome = await call().then(
            () => 'resolved',
            (err: unknown) => (err instanceof NotFoundError ? 'not found' : 'refused'),
          );
          expect(outcome, `${method}(${JSON.stringify(key)})`).toBe('refused');
        }
        expect(await backend.snapshot()).toEqual(before);
      });

      it('accepts the characters layout keys use', async () => {
        const key = 'repositories/library/a_b-c.d/_layers/sha256/0123abcdef/link+x=1';
        await driver.putContent(key, 'ok');
        expect((await driver.getContent(key)).toString()).toBe('ok');
      });
    });
  });
}
