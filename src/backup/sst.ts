/**
 * SST integrity checks after decryption, and entry iteration for row-based tables.
 *
 * Reads only what it needs through a RangeSource (footer, metaindex, properties, index blocks, then
 * every block they reference), so a ChunkedReader-backed source decrypts lazily and memory stays
 * bounded by one index block plus a read-ahead window, whatever the size of the table.
 *
 * See sst-format.ts for the format facts.
 */
import type { RangeSource } from '../format/chunked';
import {
  CHECKSUM_NAMES,
  COMPRESSION_NAMES,
  Footer,
  Handle,
  MAX_BLOCK_LEN,
  MAX_FOOTER_LEN,
  RowEntry,
  SstCorruption,
  SstEngine,
  SstUnsupported,
  TRAILER_LEN,
  blockChecksum,
  colIndexHandles,
  colKeyValues,
  decodeHandle,
  decompressBlock,
  hex32,
  parseFooter,
  readUvarint,
  rowBlockEntries,
} from './sst-format';

export type { RangeSource } from '../format/chunked';
export type { SstEngine } from './sst-format';
export { SstCorruption, SstUnsupported } from './sst-format';

export interface SstCheckResult {
  ok: boolean;
  engine: SstEngine;
  formatVersion?: number;
  checksumType?: string;
  /** Blocks whose trailer checksum was computed and compared. */
  blocksChecked: number;
  /** True when not every block of the table could be located and verified. */
  partial: boolean;
  partialReason?: string;
  /** Specific problems: which block, offset, expected vs actual. Empty when ok. */
  problems: string[];
}

/** One entry of a row-based table: the user key (internal-key trailer stripped) and its value. */
export interface SstEntry {
  key: Buffer;
  value: Buffer;
  /** Internal key kind (1 SET, 0 DEL, 2 MERGE, 15 RANGEDEL, ...), Pebble's obsolete bit cleared. */
  kind: number;
  seqNum: bigint;
}

const READ_AHEAD = 1024 * 1024;
const INDEX_TYPE_TWO_LEVEL = 2;

/**
 * Whether the table has a two-level (partitioned) index, from its properties:
 * "rocksdb.block.based.table.index.type" is a LE32 (2 = two-level); "rocksdb.index.partitions"
 * (varint) counts the second-level index blocks.
 */
function isTwoLevel(props: Map<string, Buffer> | undefined): boolean {
  const t = props?.get('rocksdb.block.based.table.index.type');
  if (t && t.length === 4) return t.readUInt32LE(0) === INDEX_TYPE_TWO_LEVEL;
  return (propUint(props, 'rocksdb.index.partitions') ?? 0) > 0;
}
const PROPERTIES = 'rocksdb.properties';
const VALUE_INDEX = 'pebble.value_index';

/** Reads block-sized ranges through a bounded read-ahead window (consecutive blocks share reads). */
class WindowedReader {
  private winStart = 0;
  private win: Buffer = Buffer.alloc(0);
  constructor(
    private readonly src: RangeSource,
    private readonly limit: number,
  ) {}

  async read(start: number, end: number): Promise<Buffer> {
    if (start >= this.winStart && end <= this.winStart + this.win.length) {
      return this.win.subarray(start - this.winStart, end - this.winStart);
    }
    const to = Math.min(this.limit, Math.max(end, start + READ_AHEAD));
    const buf = await this.src.read(start, to);
    if (buf.length < end - start) {
      throw new SstCorruption(`short read: asked for bytes [${start}, ${end}) and got ${buf.length} bytes`);
    }
    this.winStart = start;
    this.win = buf;
    return buf.subarray(0, end - start);
  }
}

interface Block {
  data: Buffer;
  type: number;
}

/** Shared table walker for the checker and the iterator. */
class Table {
  footer!: Footer;
  /** Blocks whose checksum was computed and compared (matching or not). */
  checked = 0;
  /** Separate windows for data blocks and for index/meta blocks, which live apart in the file. */
  private dataReader!: WindowedReader;
  private metaReader!: WindowedReader;
  constructor(private readonly src: RangeSource) {}

  async open(): Promise<Footer> {
    const size = this.src.size;
    const start = Math.max(0, size - MAX_FOOTER_LEN);
    const tail = await this.src.read(start, size);
    if (tail.length !== size - start) {
      throw new SstCorruption(`short read of the footer: ${tail.length} of ${size - start} bytes`);
    }
    this.footer = parseFooter(tail, size);
    this.dataReader = new WindowedReader(this.src, this.footer.offset);
    this.metaReader = new WindowedReader(this.src, this.footer.offset);
    return this.footer;
  }

  get columnar(): boolean {
    return this.footer.engine === 'pebble' && this.footer.formatVersion >= 5;
  }

  /** Pebble v3+ flags restart points with their top bit and prefixes SET values with one byte. */
  get pebbleV3(): boolean {
    return this.footer.engine === 'pebble' && this.footer.formatVersion >= 3;
  }

  /** Reads a block and its trailer; throws SstCorruption on bad bounds or a checksum mismatch. */
  async readBlock(h: Handle, label: string, data = false): Promise<Block> {
    const where = `${label} (offset ${h.offset}, length ${h.length})`;
    if (h.length > MAX_BLOCK_LEN || h.offset + h.length + TRAILER_LEN > this.footer.offset) {
      throw new SstCorruption(`${where} lies outside the table's blocks (which end at ${this.footer.offset})`);
    }
    const reader = data ? this.dataReader : this.metaReader;
    const buf = await reader.read(h.offset, h.offset + h.length + TRAILER_LEN);
    const bytes = buf.subarray(0, h.length);
    const type = buf[h.length];
    const stored = buf.readUInt32LE(h.length + 1);
    const computed = blockChecksum(this.footer.checksumType, bytes, type);
    this.checked++;
    if (stored !== computed) {
      throw new SstCorruption(
        `${where}: checksum mismatch (${CHECKSUM_NAMES[this.footer.checksumType]}): stored ${hex32(stored)}, computed ${hex32(computed)}`,
      );
    }
    return { data: bytes, type };
  }

  async readDecompressed(h: Handle, label: string, data = false): Promise<Buffer> {
    const b = await this.readBlock(h, label, data);
    try {
      return decompressBlock(b.type, b.data);
    } catch (e) {
      if (e instanceof SstCorruption) {
        throw new SstCorruption(`${label} (offset ${h.offset}, length ${h.length}): ${e.message}`);
      }
      throw e;
    }
  }

  /**
   * Entries of a key/value meta block (metaindex, properties): row-oriented, or columnar in recent
   * Pebble formats.
   */
  metaEntries(block: Buffer): RowEntry[] {
    if (this.columnar && block.length > 0 && block[0] === 1 && block[block.length - 1] === 0) {
      try {
        return colKeyValues(block);
      } catch {
        // fall through: older v5 tables may keep a row-oriented metaindex
      }
    }
    return [...rowBlockEntries(block, false)];
  }

  /** Block handles listed by an index block. */
  indexHandles(block: Buffer): Handle[] {
    if (this.columnar) return colIndexHandles(block);
    const out: Handle[] = [];
    for (const e of rowBlockEntries(block, this.pebbleV3)) out.push(decodeHandle(e.value)[0]);
    return out;
  }
}

function parseProperties(t: Table, block: Buffer): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of t.metaEntries(block)) m.set(e.key.toString('latin1'), e.value);
  return m;
}

function propUint(props: Map<string, Buffer> | undefined, name: string): number | undefined {
  const v = props?.get(name);
  if (!v) return undefined;
  try {
    return readUvarint(v, 0)[0];
  } catch {
    return undefined;
  }
}

/**
 * Structural check of one table: footer and magic, format version, checksum type, and the trailer
 * checksum of every block reachable from the metaindex and the index (two-level indexes included).
 * Never throws on corrupt input; throws only what the source's read() throws.
 */
export async function checkSst(src: RangeSource): Promise<SstCheckResult> {
  const res: SstCheckResult = { ok: false, engine: 'unknown', blocksChecked: 0, partial: false, problems: [] };
  const partialReasons: string[] = [];
  const covered = new Map<number, number>(); // block offset -> bytes incl. trailer
  const t = new Table(src);

  const guard = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SstCorruption) res.problems.push(e.message);
      else if (e instanceof SstUnsupported) partialReasons.push(`unsupported ${e.message}`);
      else if (e instanceof RangeError) res.problems.push(`malformed structure: ${e.message}`);
      else throw e;
      return undefined;
    }
  };

  const verify = async (h: Handle, label: string, decompress: boolean): Promise<Buffer | undefined> =>
    guard(async () => {
      const b = await t.readBlock(h, label, !decompress);
      covered.set(h.offset, h.length + TRAILER_LEN);
      if (!decompress) return b.data;
      try {
        return decompressBlock(b.type, b.data);
      } catch (e) {
        if (e instanceof SstCorruption) throw new SstCorruption(`${label} (offset ${h.offset}): ${e.message}`);
        if (e instanceof SstUnsupported) throw new SstUnsupported(`${e.message} in ${label} at offset ${h.offset}`);
        throw e;
      }
    });

  const footer = await guard(() => t.open());
  if (!footer) {
    res.ok = false;
    return res;
  }
  if (footer.footerChecksum && footer.footerChecksum[0] !== footer.footerChecksum[1]) {
    partialReasons.push(
      `footer checksum not verified: stored ${hex32(footer.footerChecksum[0])}, computed ${hex32(footer.footerChecksum[1])} under the assumed Pebble v6 footer layout`,
    );
  }
  res.engine = footer.engine;
  res.formatVersion = footer.formatVersion;
  res.checksumType = CHECKSUM_NAMES[footer.checksumType] ?? `unknown(${footer.checksumType})`;
  if (footer.checksumType !== 1 && footer.checksumType !== 3) {
    res.problems.push(
      `unsupported block checksum type ${footer.checksumType} (${res.checksumType}): Pebble reads only crc32c and xxhash64`,
    );
    return res;
  }

  // Metaindex and the meta blocks it names.
  let props: Map<string, Buffer> | undefined;
  const metaBlock = await verify(footer.metaindex, 'metaindex block', true);
  if (metaBlock) {
    const entries = await guard(async () => t.metaEntries(metaBlock));
    for (const e of entries ?? []) {
      const name = e.key.toString('latin1');
      const handle = await guard(async () => decodeHandle(e.value)[0]);
      if (!handle) continue;
      if (name === PROPERTIES) {
        const pb = await verify(handle, `properties block "${name}"`, true);
        if (pb) props = await guard(async () => parseProperties(t, pb));
      } else if (name === VALUE_INDEX) {
        const vb = await verify(handle, `value index block "${name}"`, true);
        if (vb) {
          await guard(async () => {
            const p = decodeHandle(e.value)[1];
            const [nNum, nOff, nLen] = [e.value[p], e.value[p + 1], e.value[p + 2]];
            const w = nNum + nOff + nLen;
            if (!w || nOff === undefined || nLen === undefined || vb.length % w !== 0) {
              throw new SstCorruption(`value index block at offset ${handle.offset} has a malformed layout`);
            }
            for (let i = 0; i < vb.length / w; i++) {
              const off = vb.readUIntLE(i * w + nNum, nOff);
              const len = vb.readUIntLE(i * w + nNum + nOff, nLen);
              await verify({ offset: off, length: len }, `value block #${i}`, false);
            }
          });
        }
      } else {
        await verify(handle, `meta block "${name}"`, false);
      }
    }
  }

  // Index (one or two levels) and every data block.
  const twoLevel = isTwoLevel(props);
  const indexBlock = await verify(footer.index, twoLevel ? 'top-level index block' : 'index block', true);
  if (indexBlock) {
    const handles = await guard(async () => t.indexHandles(indexBlock));
    let dataNo = 0;
    const walkData = async (hs: Handle[]) => {
      for (const h of hs) {
        await verify(h, `data block #${dataNo}`, false);
        dataNo++;
      }
    };
    if (twoLevel) {
      for (const [i, h] of (handles ?? []).entries()) {
        const lower = await verify(h, `index block #${i} (second level)`, true);
        if (!lower) continue;
        const hs = await guard(async () => t.indexHandles(lower));
        if (hs) await walkData(hs);
      }
    } else if (handles) {
      await walkData(handles);
    }
    const expectBlocks = propUint(props, 'rocksdb.num.data.blocks');
    if (res.problems.length === 0 && expectBlocks !== undefined && expectBlocks !== dataNo) {
      res.problems.push(`the index lists ${dataNo} data blocks but the properties block says ${expectBlocks}`);
    }
  }

  // Did we locate every byte before the footer?
  let coveredBytes = 0;
  for (const n of covered.values()) coveredBytes += n;
  if (res.problems.length === 0 && coveredBytes < footer.offset) {
    partialReasons.push(
      `${footer.offset - coveredBytes} of ${footer.offset} bytes before the footer belong to no block that could be located`,
    );
  } else if (res.problems.length === 0 && coveredBytes > footer.offset) {
    res.problems.push(`located blocks cover ${coveredBytes} bytes but only ${footer.offset} precede the footer (overlapping handles)`);
  }
  res.blocksChecked = t.checked;
  if (partialReasons.length) {
    res.partial = true;
    res.partialReason = partialReasons.join('; ');
  }
  res.ok = res.problems.length === 0;
  return res;
}

/** The properties block of a table ("rocksdb.properties"), names to raw values; undefined if absent. */
export async function readSstProperties(src: RangeSource): Promise<Map<string, Buffer> | undefined> {
  const t = new Table(src);
  const footer = await t.open();
  const meta = await t.readDecompressed(footer.metaindex, 'metaindex block');
  for (const e of t.metaEntries(meta)) {
    if (e.key.toString('latin1') === PROPERTIES) {
      return parseProperties(t, await t.readDecompressed(decodeHandle(e.value)[0], 'properties block'));
    }
  }
  return undefined;
}

/** Decodes a numeric property (varint), as RocksDB and Pebble write them. */
export function sstPropertyNumber(props: Map<string, Buffer> | undefined, name: string): number | undefined {
  return propUint(props, name);
}

const KIND_SET = 1;
const OBSOLETE_BIT = 0x40;

/**
 * Iterates the point entries of a row-based table (LevelDB, RocksDB v2, Pebble v1-v4) in order:
 * index -> data blocks -> entries, each block's checksum verified on the way. Keys are user keys
 * (the 8-byte internal-key trailer stripped and exposed as kind/seqNum). Pebble v3+ SET values lose
 * their one-byte value prefix. Columnar tables (Pebble v5+) are not supported: it throws.
 * Throws SstCorruption on damage.
 */
export async function* iterateSstEntries(src: RangeSource): AsyncGenerator<SstEntry> {
  const t = new Table(src);
  const footer = await t.open();
  if (t.columnar) {
    throw new SstUnsupported(
      `Pebble table format v${footer.formatVersion} stores columnar blocks; iterating its entries is not supported`,
    );
  }
  if (footer.checksumType !== 1 && footer.checksumType !== 3) {
    throw new SstUnsupported(`block checksum type ${footer.checksumType}`);
  }
  let props: Map<string, Buffer> | undefined;
  const meta = await t.readDecompressed(footer.metaindex, 'metaindex block');
  for (const e of t.metaEntries(meta)) {
    if (e.key.toString('latin1') === PROPERTIES) {
      props = parseProperties(t, await t.readDecompressed(decodeHandle(e.value)[0], 'properties block'));
    }
  }
  const twoLevel = isTwoLevel(props);
  const top = t.indexHandles(await t.readDecompressed(footer.index, 'index block'));
  // Single-level: one list of data blocks. Two-level: read each second-level index in turn.
  const levels: Array<Handle | undefined> = twoLevel ? top : [undefined];
  let dataNo = 0;
  for (const [i, lower] of levels.entries()) {
    const handles = lower ? t.indexHandles(await t.readDecompressed(lower, `index block #${i} (second level)`)) : top;
    for (const h of handles) {
      const block = await t.readDecompressed(h, `data block #${dataNo++}`, true);
      for (const e of rowBlockEntries(block, t.pebbleV3)) {
        if (e.key.length < 8) throw new SstCorruption(`data block #${dataNo - 1}: internal key shorter than 8 bytes`);
        const trailer = e.key.readBigUInt64LE(e.key.length - 8);
        const kind = Number(trailer & 0xffn) & ~OBSOLETE_BIT;
        let value = e.value;
        if (t.pebbleV3 && kind === KIND_SET) {
          if (value.length === 0) throw new SstCorruption(`data block #${dataNo - 1}: SET value lacks its value prefix`);
          if (value[0] & 0x80) {
            throw new SstUnsupported(`data block #${dataNo - 1}: value stored in a separate value block (not supported)`);
          }
          value = value.subarray(1);
        }
        yield { key: e.key.subarray(0, e.key.length - 8), value, kind, seqNum: trailer >> 8n };
      }
    }
  }
}

/** A RangeSource over an in-memory buffer (tests, small tables). */
export function bufferSource(buf: Buffer): RangeSource {
  return {
    size: buf.length,
    read: async (start: number, end: number) => buf.subarray(start, Math.min(end, buf.length)),
  };
}

/** Human-readable names for compression types, for reports. */
export const SST_COMPRESSION_NAMES = COMPRESSION_NAMES;
