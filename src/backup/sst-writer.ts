/**
 * A small SST writer for the project's sample fixtures.
 *
 * Writes a RocksDB block-based table, format version 2 (the format Pebble calls TableFormatRocksDBv2
 * and still reads), with CRC32C block checksums and the RocksDB magic:
 *
 *   [data block]* [index block] [properties block] [metaindex block] [53-byte footer]
 *
 * Keys are internal keys: the user key followed by an 8-byte little-endian trailer
 * (seqNum << 8 | kind) with seqNum 0 and kind SET (1). Blocks are uncompressed (trailer type 0),
 * each followed by a 5-byte trailer holding the masked CRC32C of the block bytes and the type byte.
 * Data blocks use shared-prefix entries with a restart point every `restartInterval` entries; the
 * index block (restart interval 1) maps the last internal key of each data block to its handle; the
 * metaindex names the properties block ("rocksdb.properties"). Whole table in memory: meant for
 * small fixtures, not for streaming large tables.
 */
import { crc32c, maskCrc32c } from '../util/crc32c';
import { ROCKSDB_MAGIC, ROCKSDB_FOOTER_LEN, putUvarint } from './sst-format';

export interface SstWriterOptions {
  /** Target uncompressed data block size in bytes (default 4096). */
  blockSize?: number;
  /** Entries between restart points in data blocks (default 16). */
  restartInterval?: number;
  /** Value of the rocksdb.comparator property (default "leveldb.BytewiseComparator"). */
  comparator?: string;
}

const KIND_SET = 1;
const CHECKSUM_CRC32C = 1;

class BlockBuilder {
  private out: number[] = [];
  private restarts: number[] = [];
  private counter = 0;
  private last: Buffer = Buffer.alloc(0);
  entries = 0;

  constructor(private readonly restartInterval: number) {}

  add(key: Buffer, value: Buffer): void {
    let shared = 0;
    if (this.counter < this.restartInterval && this.entries > 0) {
      const n = Math.min(key.length, this.last.length);
      while (shared < n && key[shared] === this.last[shared]) shared++;
    } else {
      this.restarts.push(this.out.length);
      this.counter = 0;
    }
    putUvarint(this.out, shared);
    putUvarint(this.out, key.length - shared);
    putUvarint(this.out, value.length);
    for (let i = shared; i < key.length; i++) this.out.push(key[i]);
    for (const b of value) this.out.push(b);
    this.last = key;
    this.counter++;
    this.entries++;
  }

  estimatedSize(): number {
    return this.out.length + 4 * (this.restarts.length + 1);
  }

  finish(): Buffer {
    const restarts = this.restarts.length ? this.restarts : [0];
    const buf = Buffer.alloc(this.out.length + 4 * (restarts.length + 1));
    Buffer.from(this.out).copy(buf, 0);
    let p = this.out.length;
    for (const r of restarts) p = buf.writeUInt32LE(r, p);
    buf.writeUInt32LE(restarts.length, p);
    return buf;
  }
}

function encodeHandle(offset: number, length: number): Buffer {
  const out: number[] = [];
  putUvarint(out, offset);
  putUvarint(out, length);
  return Buffer.from(out);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  putUvarint(out, n);
  return Buffer.from(out);
}

function internalKey(userKey: Buffer): Buffer {
  const k = Buffer.alloc(userKey.length + 8);
  userKey.copy(k, 0);
  k.writeBigUInt64LE((0n << 8n) | BigInt(KIND_SET), userKey.length); // seqNum 0, kind SET
  return k;
}

/**
 * Builds a table holding `entries` (sorted by key here; duplicate keys are an error). The result is
 * accepted by checkSst and iterateSstEntries (which yields the same keys and values, in order).
 */
export function buildSst(entries: Array<{ key: Buffer; value: Buffer }>, opts: SstWriterOptions = {}): Buffer {
  const blockSize = opts.blockSize ?? 4096;
  const restartInterval = opts.restartInterval ?? 16;
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].key.equals(sorted[i - 1].key)) {
      throw new Error(`buildSst: duplicate key ${sorted[i].key.toString('hex')}`);
    }
  }

  const parts: Buffer[] = [];
  let offset = 0;
  const writeBlock = (block: Buffer): { offset: number; length: number } => {
    const trailer = Buffer.alloc(5);
    trailer[0] = 0; // no compression
    trailer.writeUInt32LE(maskCrc32c(crc32c(trailer.subarray(0, 1), crc32c(block))), 1);
    const h = { offset, length: block.length };
    parts.push(block, trailer);
    offset += block.length + 5;
    return h;
  };

  const index = new BlockBuilder(1);
  let data = new BlockBuilder(restartInterval);
  let lastKey: Buffer | undefined;
  let numDataBlocks = 0;
  let dataSize = 0;
  let rawKeySize = 0;
  let rawValueSize = 0;
  const flush = () => {
    if (data.entries === 0 || !lastKey) return;
    const h = writeBlock(data.finish());
    dataSize += h.length + 5;
    numDataBlocks++;
    index.add(lastKey, encodeHandle(h.offset, h.length));
    data = new BlockBuilder(restartInterval);
  };
  for (const e of sorted) {
    const ik = internalKey(e.key);
    data.add(ik, e.value);
    lastKey = ik;
    rawKeySize += ik.length;
    rawValueSize += e.value.length;
    if (data.estimatedSize() >= blockSize) flush();
  }
  flush();
  const indexHandle = writeBlock(index.finish());

  const le32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b;
  };
  const props: Array<[string, Buffer]> = [
    ['rocksdb.block.based.table.index.type', le32(0)],
    ['rocksdb.comparator', Buffer.from(opts.comparator ?? 'leveldb.BytewiseComparator')],
    ['rocksdb.compression', Buffer.from('NoCompression')],
    ['rocksdb.data.size', varint(dataSize)],
    ['rocksdb.deleted.keys', varint(0)],
    ['rocksdb.filter.size', varint(0)],
    ['rocksdb.index.size', varint(indexHandle.length + 5)],
    ['rocksdb.merge.operands', varint(0)],
    ['rocksdb.merge.operator', Buffer.from('nullptr')],
    ['rocksdb.num.data.blocks', varint(numDataBlocks)],
    ['rocksdb.num.entries', varint(sorted.length)],
    ['rocksdb.num.range-deletions', varint(0)],
    ['rocksdb.property.collectors', Buffer.from('[]')],
    ['rocksdb.raw.key.size', varint(rawKeySize)],
    ['rocksdb.raw.value.size', varint(rawValueSize)],
  ];
  props.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const pb = new BlockBuilder(1);
  for (const [k, v] of props) pb.add(Buffer.from(k), v);
  const propsHandle = writeBlock(pb.finish());

  const meta = new BlockBuilder(1);
  meta.add(Buffer.from('rocksdb.properties'), encodeHandle(propsHandle.offset, propsHandle.length));
  const metaHandle = writeBlock(meta.finish());

  const footer = Buffer.alloc(ROCKSDB_FOOTER_LEN);
  footer[0] = CHECKSUM_CRC32C;
  const handles = Buffer.concat([
    encodeHandle(metaHandle.offset, metaHandle.length),
    encodeHandle(indexHandle.offset, indexHandle.length),
  ]);
  handles.copy(footer, 1);
  footer.writeUInt32LE(2, ROCKSDB_FOOTER_LEN - 12); // format version 2
  ROCKSDB_MAGIC.copy(footer, ROCKSDB_FOOTER_LEN - 8);
  parts.push(footer);
  return Buffer.concat(parts);
}
