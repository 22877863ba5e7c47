/**
 * Known answers: the shared vectors were written by CockroachDB's own encryption code. Every enc-*
 * must decrypt to its plain-* through all three read paths, and every bad-* must be refused with
 * its own typed error.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ChunkedReader,
  DecryptStream,
  decryptBuffer,
  type RangeSource,
} from '../../src/format/chunked';
import {
  AuthenticationError,
  FormatError,
  NotEncryptedError,
  ShortHeaderError,
  TruncatedError,
  UnsupportedVersionError,
} from '../../src/format/errors';
import { describeShared, expected, testdata } from '../helpers/shared';

function vec(name: string): Buffer {
  return fs.readFileSync(testdata('vectors', name));
}

function bufferSource(buf: Buffer): RangeSource {
  return { size: buf.length, read: async (a, b) => buf.subarray(a, b) };
}

/** Feeds data in pieces of the given size (odd sizes exercise the reassembly). */
async function decryptViaStream(key: Buffer, data: Buffer, piece = 7777): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  const out: Buffer[] = [];
  const d = new DecryptStream(key);
  d.on('data', (b: Buffer) => out.push(b));
  await pipeline(Readable.from(parts), d);
  return Buffer.concat(out);
}

async function decryptViaReader(key: Buffer, data: Buffer): Promise<Buffer> {
  const r = new ChunkedReader(bufferSource(data), key);
  const size = await r.open();
  return r.read(0, size);
}

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, got success');
}

interface Expectation {
  cls: new (...a: never[]) => FormatError;
  kind: string;
  chunk?: number;
}

const BAD: Record<string, Expectation> = {
  'bad-truncated-at-chunk-boundary.bin': { cls: TruncatedError, kind: 'truncated' },
  'bad-truncated-mid-chunk.bin': { cls: TruncatedError, kind: 'truncated' },
  'bad-bitflip-body.bin': { cls: AuthenticationError, kind: 'authentication-failed', chunk: 0 },
  'bad-bitflip-iv.bin': { cls: AuthenticationError, kind: 'authentication-failed', chunk: 0 },
  'bad-bitflip-tag.bin': { cls: AuthenticationError, kind: 'authentication-failed', chunk: 1 },
  'bad-swapped-chunks.bin': { cls: AuthenticationError, kind: 'authentication-failed', chunk: 0 },
  'bad-version.bin': { cls: UnsupportedVersionError, kind: 'unsupported-version' },
  'bad-short-header.bin': { cls: ShortHeaderError, kind: 'truncated' },
  'bad-not-encrypted.bin': { cls: NotEncryptedError, kind: 'not-encrypted' },
};

describeShared('format: shared CockroachDB vectors', () => {
  const exp = expected();
  const key = Buffer.from(exp.kdf.key_hex, 'hex');
  const wrongKey = Buffer.from(exp.wrong_key_hex, 'hex');
  const good = (exp.vectors as { file: string; plaintext?: string; expect: string }[]).filter((v) => v.expect === 'ok');
  const bad = (exp.vectors as { file: string; expect: string }[]).filter((v) => v.expect === 'error');

  test('every vector listed in EXPECTED.json is covered here', () => {
    expect(good.length).toBeGreaterThanOrEqual(9);
    for (const v of bad) expect(Object.keys(BAD)).toContain(v.file);
  });

  describe.each(good.map((v) => [v.file, v.plaintext as string]))('%s', (file, plainName) => {
    const enc = vec(file);
    const plain = vec(plainName);

    test('decryptBuffer', () => {
      expect(decryptBuffer(key, enc).equals(plain)).toBe(true);
    });
    test('DecryptStream (odd input pieces and one-byte pieces for small files)', async () => {
      expect((await decryptViaStream(key, enc)).equals(plain)).toBe(true);
      if (enc.length < 1000) expect((await decryptViaStream(key, enc, 1)).equals(plain)).toBe(true);
      expect((await decryptViaStream(key, enc, enc.length + 1)).equals(plain)).toBe(true);
    });
    test('ChunkedReader', async () => {
      expect((await decryptViaReader(key, enc)).equals(plain)).toBe(true);
    });
    test('wrong key fails on chunk 0 with AuthenticationError', async () => {
      for (const e of [
        await errorOf(() => decryptBuffer(wrongKey, enc)),
        await errorOf(decryptViaStream(wrongKey, enc)),
        await errorOf(decryptViaReader(wrongKey, enc)),
      ]) {
        expect(e).toBeInstanceOf(AuthenticationError);
        expect((e as AuthenticationError).chunk).toBe(0);
        expect((e as AuthenticationError).offset).toBe(20);
      }
    });
  });

  describe.each(Object.entries(BAD))('%s is refused', (file, want) => {
    const enc = vec(file);
    const check = (e: unknown): void => {
      expect(e).toBeInstanceOf(want.cls);
      expect((e as FormatError).kind).toBe(want.kind);
      if (want.chunk !== undefined) {
        expect((e as AuthenticationError).chunk).toBe(want.chunk);
        expect((e as AuthenticationError).offset).toBe(20 + want.chunk * 65552);
      }
    };
    test('decryptBuffer', async () => check(await errorOf(() => decryptBuffer(key, enc))));
    test('DecryptStream', async () => check(await errorOf(decryptViaStream(key, enc))));
    test('DecryptStream, one write', async () => check(await errorOf(decryptViaStream(key, enc, enc.length))));
    test('ChunkedReader', async () => check(await errorOf(decryptViaReader(key, enc))));
  });

  test('DecryptStream releases no plaintext of a chunk that fails', async () => {
    const enc = vec('bad-bitflip-tag.bin'); // chunk 0 good, chunk 1 (final) bad
    const out: Buffer[] = [];
    const d = new DecryptStream(key);
    d.on('data', (b: Buffer) => out.push(b));
    await expect(pipeline(Readable.from([enc]), d)).rejects.toBeInstanceOf(AuthenticationError);
    expect(Buffer.concat(out).length).toBeLessThanOrEqual(65536);
    const plain = vec('plain-65537.bin');
    expect(Buffer.concat(out).equals(plain.subarray(0, Buffer.concat(out).length))).toBe(true);
  });
});
