/**
 * Checks one must-be-ciphertext object: the preamble, every chunk's tag, and (for SSTs) the table
 * structure after decryption. Plaintext is only ever held in memory, never written anywhere.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { appearsEncrypted, ChunkedReader, decryptBuffer, DecryptStream, type RangeSource } from '../format/chunked';
import { AuthenticationError, FormatError } from '../format/errors';
import { checkSst, type SstCheckResult } from '../backup/sst';
import { isSstKey } from '../backup/classify';
import type { ObjectInfo, ObjectStore } from '../storage/object-store';
import { problem, type Problem } from './problems';

/** Objects up to this size are read whole (one request); larger ones are streamed. */
export const WHOLE_READ_LIMIT = 8 * 1024 * 1024;
/** Ranged reads of large objects fetch at least this much: one request per window, not per block. */
export const READ_AHEAD = 4 * 1024 * 1024;
const WINDOWS = 3;

/**
 * A range source over one stored object that fetches READ_AHEAD-sized windows and serves reads inside
 * a held window from memory. The table walk reads the footer and index near the end, then the data
 * blocks forward from the start, so a few windows are kept (least recently used goes), and a read that
 * runs past a window's end fetches only the bytes beyond it. An object then costs about
 * size / READ_AHEAD requests and one read of its bytes. Memory: WINDOWS windows per object in flight.
 */
export function readAhead(store: ObjectStore, object: ObjectInfo, onBytes?: (n: number) => void): RangeSource {
  const windows: { start: number; data: Buffer }[] = [];
  const fetch = async (a: number, b: number): Promise<Buffer> => {
    const data = await store.readRange(object.key, a, b);
    onBytes?.(data.length);
    return data;
  };
  return {
    size: object.size,
    read: async (a, b) => {
      const i = windows.findIndex((w) => a >= w.start && a < w.start + w.data.length);
      if (i >= 0 && b <= windows[i].start + windows[i].data.length) {
        const [w] = windows.splice(i, 1);
        windows.unshift(w);
        return w.data.subarray(a - w.start, b - w.start);
      }
      const end = Math.min(object.size, Math.max(b, a + READ_AHEAD));
      let data: Buffer;
      if (i >= 0) {
        // The read starts inside a window and runs past it: keep what is held, fetch only the rest.
        const [w] = windows.splice(i, 1);
        const held = w.data.subarray(a - w.start);
        data = Buffer.concat([held, await fetch(w.start + w.data.length, end)]);
      } else {
        data = await fetch(a, end);
      }
      windows.unshift({ start: a, data });
      windows.length = Math.min(windows.length, WINDOWS);
      return data.subarray(0, b - a);
    },
  };
}

export interface ObjectCheck {
  key: string;
  /** The object authenticated completely under the key. */
  authenticated: boolean;
  /** Chunk 0 did not authenticate (the signature of a wrong key). */
  failedAtStart: boolean;
  sst?: SstCheckResult;
  problems: Problem[];
  bytes: number;
}

export interface ObjectCheckOptions {
  store: ObjectStore;
  object: ObjectInfo;
  /** Path reported in problems (relative to the collection root). */
  path: string;
  /** The data key; undefined for a cleartext (unencrypted, e.g. decrypted) backup. */
  key: Buffer | undefined;
  checkSsts: boolean;
  /** Called with bytes of ciphertext as they are read. */
  onBytes?: (n: number) => void;
}

function formatProblem(path: string, e: FormatError): Problem {
  return problem(path, e.kind, e.message);
}

export async function checkObject(o: ObjectCheckOptions): Promise<ObjectCheck> {
  const { store, object, path, key } = o;
  const out: ObjectCheck = { key: object.key, authenticated: false, failedAtStart: false, problems: [], bytes: object.size };
  const head = await store.readRange(object.key, 0, Math.min(20, object.size));
  if (key === undefined) return checkCleartextObject(o, head, out);
  if (!appearsEncrypted(head)) {
    out.problems.push(
      problem(path, 'not-encrypted', 'the object does not start with the "encrypt" preamble: it is stored as plaintext in an encrypted backup'),
    );
    o.onBytes?.(object.size);
    return out;
  }
  const sst = o.checkSsts && isSstKey(object.key);
  let plainSource: RangeSource | undefined;
  let sstResult: SstCheckResult | undefined;
  try {
    if (object.size <= WHOLE_READ_LIMIT) {
      const data = await store.read(object.key);
      o.onBytes?.(data.length);
      const plain = decryptBuffer(key, data);
      plainSource = { size: plain.length, read: async (a, b) => plain.subarray(a, b) };
    } else if (sst) {
      // One pass over the object: the table checker reads what it needs through the random-access
      // reader (every chunk it touches is authenticated), then the chunks it did not touch are
      // authenticated too. Chunk 0 goes first, so a wrong key still shows as a chunk-0 failure.
      const reader = new ChunkedReader(readAhead(store, object, o.onBytes), key, { trackVerified: true });
      const size = await reader.open();
      await reader.read(0, Math.min(size, 1));
      plainSource = { size, read: (a, b) => reader.read(a, b) };
      sstResult = await checkSst(plainSource);
      await reader.verifyRemaining();
    } else {
      const decrypt = new DecryptStream(key);
      const input = await store.createReadStream(object.key);
      input.on('data', (d: Buffer) => o.onBytes?.(d.length));
      await pipeline(
        input,
        decrypt,
        new Writable({
          highWaterMark: 1,
          write(_chunk, _enc, cb) {
            cb();
          },
        }),
      );
    }
    out.authenticated = true;
  } catch (e) {
    if (e instanceof FormatError) {
      out.problems.push(formatProblem(path, e));
      out.failedAtStart = e instanceof AuthenticationError && e.chunk === 0;
      return out;
    }
    throw e;
  }
  if (sst && plainSource) {
    try {
      out.sst = sstResult ?? (await checkSst(plainSource));
    } catch (e) {
      if (e instanceof FormatError) {
        out.problems.push(formatProblem(path, e));
        return out;
      }
      throw e;
    }
    if (!out.sst.ok) {
      out.problems.push(problem(path, 'sst-corrupt', out.sst.problems.join('; ') || 'the table does not pass the structural check'));
    }
  }
  return out;
}

/** In a cleartext backup: SSTs are checked as stored; an encrypted object there cannot be restored. */
async function checkCleartextObject(o: ObjectCheckOptions, head: Buffer, out: ObjectCheck): Promise<ObjectCheck> {
  const { store, object, path } = o;
  o.onBytes?.(object.size);
  if (!isSstKey(object.key)) return out;
  if (appearsEncrypted(head)) {
    out.problems.push(
      problem(path, 'sst-corrupt', 'the table is encrypted, but the backup has no ENCRYPTION-INFO: a restore cannot read it'),
    );
    return out;
  }
  if (!o.checkSsts) return out;
  out.sst = await checkSst({ size: object.size, read: (a, b) => store.readRange(object.key, a, b) });
  if (!out.sst.ok) {
    out.problems.push(problem(path, 'sst-corrupt', out.sst.problems.join('; ') || 'the table does not pass the structural check'));
  }
  return out;
}
