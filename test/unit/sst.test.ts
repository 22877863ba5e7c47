/**
 * SST structural checks on real tables (LevelDB, RocksDB v2, Pebble v1/v4/v7) and damaged ones,
 * single-byte damage anywhere, truncation, entry iteration, reading through the chunked decryptor,
 * bounded reads, and the fixture writer's round trip.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  bufferSource,
  checkSst,
  iterateSstEntries,
  readSstProperties,
  sstPropertyNumber,
  type RangeSource,
  type SstEntry,
} from '../../src/backup/sst';
import { buildSst } from '../../src/backup/sst-writer';
import { ChunkedReader, encryptBuffer } from '../../src/format/chunked';
import { describeShared, testdata } from '../helpers/shared';

const GOOD: Record<string, { engine: string; version: number; rowBased: boolean }> = {
  'leveldb-table.sst': { engine: 'leveldb', version: 0, rowBased: true },
  'rocksdb-v2-snappy.sst': { engine: 'rocksdb', version: 2, rowBased: true },
  'pebble-v1-hamlet-snappy.sst': { engine: 'pebble', version: 1, rowBased: true },
  'pebble-v1-zstd.sst': { engine: 'pebble', version: 1, rowBased: true },
  'pebble-v4-mixed.sst': { engine: 'pebble', version: 4, rowBased: true },
  'pebble-v7-columnar.sst': { engine: 'pebble', version: 7, rowBased: false },
};

const good = (name: string) => fs.readFileSync(testdata('sst', 'good', name));

async function entries(src: RangeSource): Promise<SstEntry[]> {
  const out: SstEntry[] = [];
  for await (const e of iterateSstEntries(src)) out.push(e);
  return out;
}

function flipped(buf: Buffer, at: number, mask: number): Buffer {
  const b = Buffer.from(buf);
  b[at] ^= mask;
  return b;
}

describeShared('checkSst on the shared sample tables', () => {
  it('lists exactly the tables this test knows', () => {
    expect(fs.readdirSync(testdata('sst', 'good')).sort()).toEqual(Object.keys(GOOD).sort());
  });

  it.each(Object.entries(GOOD))('%s passes with the right engine and format version', async (name, want) => {
    const buf = good(name);
    const r = await checkSst(bufferSource(buf));
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.engine).toBe(want.engine);
    expect(r.formatVersion).toBe(want.version);
    expect(r.checksumType).toBe('crc32c');
    // Every byte before the footer belongs to a located, checksummed block, columnar included.
    expect(r.partial).toBe(false);
    const props = await readSstProperties(bufferSource(buf));
    const dataBlocks = sstPropertyNumber(props, 'rocksdb.num.data.blocks') ?? 0;
    expect(dataBlocks).toBeGreaterThan(0);
    // data blocks + index + metaindex (+ properties and other meta blocks)
    expect(r.blocksChecked).toBeGreaterThanOrEqual(dataBlocks + 2);
  });

  it('walks the two-level index and value blocks of the Pebble v7 columnar table', async () => {
    const buf = good('pebble-v7-columnar.sst');
    const props = await readSstProperties(bufferSource(buf));
    const partitions = sstPropertyNumber(props, 'rocksdb.index.partitions') ?? 0;
    const valueBlocks = sstPropertyNumber(props, 'pebble.num.value-blocks') ?? 0;
    const dataBlocks = sstPropertyNumber(props, 'rocksdb.num.data.blocks') ?? 0;
    expect(partitions).toBeGreaterThan(1);
    const r = await checkSst(bufferSource(buf));
    // metaindex + properties + value index + top-level index + partitions + value blocks + data blocks
    expect(r.blocksChecked).toBe(4 + partitions + valueBlocks + dataBlocks);
  });

  it('reports the damaged Pebble table as a checksum mismatch naming the block and offsets', async () => {
    const r = await checkSst(bufferSource(fs.readFileSync(testdata('sst', 'bad', 'pebble-v2-corrupted.sst'))));
    expect(r.ok).toBe(false);
    expect(r.engine).toBe('pebble');
    expect(r.formatVersion).toBe(2);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems[0]).toMatch(/block .*\(offset \d+, length \d+\): checksum mismatch \(crc32c\): stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
  });

  it('reports a bad magic with the bytes found', async () => {
    const r = await checkSst(bufferSource(fs.readFileSync(testdata('sst', 'bad', 'bad-magic.sst'))));
    expect(r.ok).toBe(false);
    expect(r.engine).toBe('unknown');
    expect(r.blocksChecked).toBe(0);
    expect(r.problems).toEqual([expect.stringMatching(/bad footer magic f6cff485b741e288/)]);
  });

  it.each(['pebble-v4-mixed.sst', 'pebble-v7-columnar.sst'])(
    '%s: flipping any single byte anywhere makes the check fail',
    async (name) => {
      const buf = good(name);
      const missed: number[] = [];
      for (let i = 0; i < buf.length; i++) {
        const r = await checkSst(bufferSource(flipped(buf, i, 0x01 << i % 8)));
        if (r.ok) missed.push(i);
      }
      expect(missed).toEqual([]);
    },
  );

  // Random damage anywhere in the blocks, and anywhere in the footer except its version field: before
  // Pebble v6 nothing checksums the footer, so a version changed into another row-based version
  // (1 <-> 2 <-> 3 <-> 4) reads the same and no reader can notice (Pebble v6 added a footer checksum
  // for this reason; see the v7 test above, where every byte is covered).
  it.each(['leveldb-table.sst', 'rocksdb-v2-snappy.sst', 'pebble-v1-hamlet-snappy.sst', 'pebble-v1-zstd.sst'])(
    '%s: flipping a byte at random offsets (data blocks included) makes the check fail with a specific problem',
    async (name) => {
      const buf = good(name);
      const versionField = name.startsWith('pebble') ? buf.length - 12 : -1;
      await fc.assert(
        fc.asyncProperty(fc.nat(buf.length - 1), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
          fc.pre(at !== versionField);
          const r = await checkSst(bufferSource(flipped(buf, at, mask)));
          expect(r.ok).toBe(false);
          expect(r.problems.length).toBeGreaterThan(0);
        }),
        { numRuns: 150 },
      );
      // The first data block starts at offset 0: damage there names it.
      const r = await checkSst(bufferSource(flipped(buf, 10, 0xff)));
      expect(r.problems.join('\n')).toMatch(/data block #0 \(offset 0, length \d+\): checksum mismatch/);
    },
  );

  it.each(Object.keys(GOOD))('%s: truncated copies fail without throwing', async (name) => {
    const buf = good(name);
    for (const len of [0, 1, 47, 48, 53, 61, Math.floor(buf.length / 2), buf.length - 8, buf.length - 1]) {
      const r = await checkSst(bufferSource(buf.subarray(0, len)));
      expect(r.ok).toBe(false);
      expect(r.problems.length).toBeGreaterThan(0);
    }
  });

  it('never throws on random garbage or spliced tables', async () => {
    const tail = good('rocksdb-v2-snappy.sst').subarray(-53);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (junk, withFooter) => {
        const buf = withFooter ? Buffer.concat([Buffer.from(junk), tail]) : Buffer.from(junk);
        const r = await checkSst(bufferSource(buf));
        expect(r.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('passes I/O errors from the source through', async () => {
    const buf = good('pebble-v1-zstd.sst');
    let calls = 0;
    const src: RangeSource = {
      size: buf.length,
      read: async (a, b) => {
        if (++calls > 2) throw new Error('connection reset');
        return buf.subarray(a, b);
      },
    };
    await expect(checkSst(src)).rejects.toThrow('connection reset');
  });

  it('checks a table through the chunked decryptor (lazy plaintext ranges)', async () => {
    const key = randomBytes(32);
    const plain = good('rocksdb-v2-snappy.sst');
    const enc = encryptBuffer(key, plain);
    const reader = new ChunkedReader(bufferSource(enc), key);
    const size = await reader.open();
    const r = await checkSst({ size, read: (a, b) => reader.read(a, b) });
    expect(r.ok).toBe(true);
    expect(r.engine).toBe('rocksdb');
  });

  it.each(Object.entries(GOOD).filter(([, w]) => w.rowBased))(
    '%s: iterateSstEntries yields sorted keys, as many as the properties count',
    async (name) => {
      const buf = good(name);
      const es = await entries(bufferSource(buf));
      const props = await readSstProperties(bufferSource(buf));
      const numEntries = sstPropertyNumber(props, 'rocksdb.num.entries') ?? -1;
      const rangeDels = sstPropertyNumber(props, 'rocksdb.num.range-deletions') ?? 0;
      expect(es.length).toBe(numEntries - rangeDels); // range deletions live in their own block
      for (let i = 1; i < es.length; i++) expect(Buffer.compare(es[i - 1].key, es[i].key)).toBeLessThanOrEqual(0);
      const rawKeys = es.reduce((n, e) => n + e.key.length + 8, 0);
      expect(rawKeys).toBeLessThanOrEqual(sstPropertyNumber(props, 'rocksdb.raw.key.size') ?? 0);
    },
  );

  it('the same hamlet data reads identically from LevelDB, RocksDB v2 and Pebble v1 (snappy and zstd)', async () => {
    const lists = await Promise.all(
      ['leveldb-table.sst', 'rocksdb-v2-snappy.sst', 'pebble-v1-hamlet-snappy.sst', 'pebble-v1-zstd.sst'].map((n) =>
        entries(bufferSource(good(n))),
      ),
    );
    const flat = (es: SstEntry[]) => es.map((e) => `${e.key.toString('hex')}/${e.kind}/${e.seqNum}/${e.value.toString('hex')}`);
    expect(lists[0].length).toBeGreaterThan(1000);
    expect(lists[0][0].key.toString()).toBe('a');
    for (const l of lists.slice(1)) expect(flat(l)).toEqual(flat(lists[0]));
  });

  it('refuses to iterate a columnar table, and throws on a damaged one', async () => {
    await expect(entries(bufferSource(good('pebble-v7-columnar.sst')))).rejects.toThrow(/columnar/);
    await expect(
      entries(bufferSource(fs.readFileSync(testdata('sst', 'bad', 'pebble-v2-corrupted.sst')))),
    ).rejects.toThrow(/checksum mismatch/);
  });
});

describe('buildSst (fixture writer)', () => {
  const kv = fc.record({ key: fc.uint8Array({ minLength: 0, maxLength: 40 }), value: fc.uint8Array({ maxLength: 120 }) });

  it('round trips: build -> check ok -> iterate equals the sorted input', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(kv, { selector: (e) => Buffer.from(e.key).toString('hex'), maxLength: 200 }), fc.integer({ min: 64, max: 4096 }), async (arr, blockSize) => {
        const input = arr.map((e) => ({ key: Buffer.from(e.key), value: Buffer.from(e.value) }));
        const sst = buildSst(input, { blockSize, restartInterval: 1 + (blockSize % 16) });
        const r = await checkSst(bufferSource(sst));
        expect(r.problems).toEqual([]);
        expect(r).toMatchObject({ ok: true, engine: 'rocksdb', formatVersion: 2, checksumType: 'crc32c', partial: false });
        const got = await entries(bufferSource(sst));
        const want = [...input].sort((a, b) => Buffer.compare(a.key, b.key));
        expect(got.map((e) => [e.key.toString('hex'), e.value.toString('hex'), e.kind, e.seqNum])).toEqual(
          want.map((e) => [e.key.toString('hex'), e.value.toString('hex'), 1, 0n]),
        );
        const props = await readSstProperties(bufferSource(sst));
        expect(sstPropertyNumber(props, 'rocksdb.num.entries')).toBe(input.length);
      }),
      { numRuns: 60 },
    );
  });

  it('writes many blocks whose damage is detected, and rejects duplicate keys', async () => {
    const input = Array.from({ length: 3000 }, (_, i) => ({
      key: Buffer.from(`/Table/104/1/${String(i).padStart(6, '0')}`),
      value: randomBytes(i % 50),
    }));
    const sst = buildSst(input, { blockSize: 1024 });
    const props = await readSstProperties(bufferSource(sst));
    expect(sstPropertyNumber(props, 'rocksdb.num.data.blocks')).toBeGreaterThan(50);
    const r = await checkSst(bufferSource(sst));
    expect(r.ok).toBe(true);
    expect(r.blocksChecked).toBe((sstPropertyNumber(props, 'rocksdb.num.data.blocks') ?? 0) + 3);
    for (const at of [0, 500, Math.floor(sst.length / 2), sst.length - 60, sst.length - 20, sst.length - 1]) {
      expect((await checkSst(bufferSource(flipped(sst, at, 0x10)))).ok).toBe(false);
    }
    expect(() => buildSst([{ key: Buffer.from('a'), value: Buffer.alloc(0) }, { key: Buffer.from('a'), value: Buffer.from('x') }])).toThrow(
      /duplicate key/,
    );
  });

  it('checks a multi-MiB table with bounded reads', async () => {
    const input = Array.from({ length: 4500 }, (_, i) => ({
      key: Buffer.from(`k${String(i).padStart(8, '0')}`),
      value: randomBytes(2048),
    }));
    const sst = buildSst(input, { blockSize: 32 * 1024 });
    expect(sst.length).toBeGreaterThan(8 * 1024 * 1024);
    let maxRead = 0;
    let total = 0;
    const src: RangeSource = {
      size: sst.length,
      read: async (a, b) => {
        maxRead = Math.max(maxRead, b - a);
        total += b - a;
        return sst.subarray(a, b);
      },
    };
    const r = await checkSst(src);
    expect(r.ok).toBe(true);
    expect(maxRead).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    expect(total).toBeLessThan(sst.length * 2.2); // read-ahead windows, no whole-file reads
  });

  it('builds an empty table that checks and iterates', async () => {
    const sst = buildSst([]);
    expect((await checkSst(bufferSource(sst))).ok).toBe(true);
    expect(await entries(bufferSource(sst))).toEqual([]);
  });
});

describeShared('Pebble v6+ footer checksum', () => {
  it('v7: damage to the attributes, the stored checksum or the padding is reported as a footer problem', async () => {
    const buf = good('pebble-v7-columnar.sst');
    const footerAt = buf.length - 61;
    for (const [at, re] of [
      [footerAt + 41, /footer checksum mismatch/], // attributes
      [footerAt + 46, /footer checksum mismatch/], // stored checksum
      [footerAt + 30, /footer padding/],
    ] as const) {
      const r = await checkSst(bufferSource(flipped(buf, at, 0x04)));
      expect(r.ok).toBe(false);
      expect(r.problems.join('\n')).toMatch(re);
    }
  });
});
