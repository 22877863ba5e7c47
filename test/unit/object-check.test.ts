/**
 * One object's check: the large-SST path reads the object once through the random-access reader
 * (table walk, then the chunks the walk did not touch), and still tells a wrong key (chunk 0) from damage.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildSst } from '../../src/backup/sst-writer';
import { ChunkedReader, encryptBuffer, CHUNK_SIZE, CIPHER_CHUNK_SIZE, HEADER_SIZE } from '../../src/format/chunked';
import { AuthenticationError } from '../../src/format/errors';
import { checkObject, WHOLE_READ_LIMIT } from '../../src/engines/object-check';
import { LocalStore } from '../../src/storage/local';

const key = randomBytes(32);
let dir: string;
let store: LocalStore;
let table: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-objcheck-'));
  store = new LocalStore(dir);
  const entries = [];
  for (let i = 0; i < 70_000; i++) entries.push({ key: Buffer.from(`k${String(i).padStart(8, '0')}`), value: randomBytes(120) });
  table = buildSst(entries);
  expect(table.length).toBeGreaterThan(WHOLE_READ_LIMIT); // exercises the large-object path
  await store.write('data/1.sst', encryptBuffer(key, table));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function counting(): { bytes: number; onBytes: (n: number) => void } {
  const c = { bytes: 0, onBytes: (n: number) => (c.bytes += n) };
  return c;
}

test('a large encrypted SST is authenticated and walked in about one read of its bytes', async () => {
  const info = (await store.stat('data/1.sst'))!;
  const c = counting();
  const r = await checkObject({ store, object: info, path: 'data/1.sst', key, checkSsts: true, onBytes: c.onBytes });
  expect(r.problems).toEqual([]);
  expect(r.authenticated).toBe(true);
  expect(r.sst?.ok).toBe(true);
  expect(r.sst?.blocksChecked).toBeGreaterThan(100);
  // Once over the object, plus at most a few re-read boundary chunks: never twice.
  expect(c.bytes).toBeGreaterThanOrEqual(info.size);
  expect(c.bytes).toBeLessThan(info.size * 1.2);
});

test('a wrong key fails at chunk 0 (the wrong-key signature), not at the footer the table walk reads first', async () => {
  const info = (await store.stat('data/1.sst'))!;
  const r = await checkObject({ store, object: info, path: 'data/1.sst', key: randomBytes(32), checkSsts: true });
  expect(r.failedAtStart).toBe(true);
  expect(r.problems).toEqual([expect.objectContaining({ kind: 'authentication-failed' })]);
});

test('damage in the middle of a large SST is authentication-failed naming its chunk', async () => {
  const sealed = encryptBuffer(key, table);
  const chunk = 50;
  sealed[HEADER_SIZE + chunk * CIPHER_CHUNK_SIZE + 100] ^= 0x04;
  await store.write('data/2.sst', sealed);
  const r = await checkObject({ store, object: (await store.stat('data/2.sst'))!, path: 'data/2.sst', key, checkSsts: true });
  expect(r.authenticated).toBe(false);
  expect(r.failedAtStart).toBe(false);
  expect(r.problems[0].kind).toBe('authentication-failed');
  expect(r.problems[0].detail).toContain(`chunk ${chunk} `);
});

describe('ChunkedReader verified-chunk tracking', () => {
  const plain = randomBytes(10 * CHUNK_SIZE + 123);
  const sealed = encryptBuffer(key, plain);
  const source = (data: Buffer, log: [number, number][]) => ({
    size: data.length,
    read: async (a: number, b: number) => {
      log.push([a, b]);
      return data.subarray(a, b);
    },
  });

  test('verifyRemaining reads exactly the chunks no read touched', async () => {
    const log: [number, number][] = [];
    const r = new ChunkedReader(source(sealed, log), key, { trackVerified: true });
    await r.open();
    expect((await r.read(3 * CHUNK_SIZE + 5, 4 * CHUNK_SIZE + 9)).equals(plain.subarray(3 * CHUNK_SIZE + 5, 4 * CHUNK_SIZE + 9))).toBe(true);
    log.length = 0;
    await r.verifyRemaining(4);
    const chunksRead = log.reduce((n, [a, b]) => n + Math.ceil((b - a) / CIPHER_CHUNK_SIZE), 0);
    expect(chunksRead).toBe(11 - 2); // 11 chunks in all, 3 and 4 already verified
    expect(log.every(([a, b]) => b - a <= 4 * CIPHER_CHUNK_SIZE)).toBe(true);
  });

  test('a damaged chunk no read touched is still found by verifyRemaining', async () => {
    const bad = Buffer.from(sealed);
    bad[HEADER_SIZE + 7 * CIPHER_CHUNK_SIZE + 3] ^= 1;
    const r = new ChunkedReader(source(bad, []), key, { trackVerified: true });
    await r.read(0, 10);
    await expect(r.verifyRemaining()).rejects.toEqual(expect.objectContaining({ chunk: 7 }));
    await expect(r.verifyRemaining()).rejects.toBeInstanceOf(AuthenticationError);
  });

  test('sequential reads sharing a boundary chunk fetch it once', async () => {
    const log: [number, number][] = [];
    const r = new ChunkedReader(source(sealed, log), key);
    await r.open();
    log.length = 0;
    await r.read(0, CHUNK_SIZE + 10);
    await r.read(CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 10);
    const fetched = log.reduce((n, [a, b]) => n + (b - a), 0);
    expect(fetched).toBe(3 * CIPHER_CHUNK_SIZE); // chunks 0,1 then 2 (1 came from the cache)
  });
});
