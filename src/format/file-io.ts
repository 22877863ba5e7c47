/**
 * Runs one stream transform from an input (a path, or "-" for stdin) to an output (a path, or "-" for
 * stdout). A file output is written to a temporary name in the same directory and renamed into place
 * only when everything succeeded, so a failure leaves no output file (and never clobbers an old one).
 * Output files are created mode 0600: they may hold plaintext of a backup.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, UsageError } from '../errors';

export const STDIO = '-';
const TMP_MARK = '.crdb-cmek-tmp-';
const HIGH_WATER = 1 << 20;

export interface TransformResult {
  bytesIn: number;
  bytesOut: number;
}

function ioError(e: unknown, what: string, file: string): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return new StorageError(`${what}: not found: ${file}`, 'ENOENT');
  if (err.code === 'EACCES' || err.code === 'EPERM') return new StorageError(`${what}: permission denied: ${file}`, err.code);
  if (err.code === 'EISDIR') return new UsageError(`${what}: ${file} is a directory`);
  return new StorageError(`${what}: ${file}: ${err.message}`, err.code);
}

async function openInput(input: string): Promise<Readable> {
  if (input === STDIO) return process.stdin;
  try {
    const fh = await fsp.open(input, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return fh.createReadStream({ highWaterMark: HIGH_WATER, autoClose: true });
  } catch (e) {
    throw ioError(e, 'cannot read input', input);
  }
}

/**
 * Writes to an open FileHandle (batched with writev), fsyncs it at the end, and leaves closing to the
 * owner (fs.WriteStream with autoClose: false never emits 'close', which stalls pipeline()).
 */
class FileSink extends Writable {
  constructor(private readonly fh: fsp.FileHandle) {
    super({ highWaterMark: HIGH_WATER });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    writeAll(this.fh, [chunk]).then(() => cb(), cb);
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    writeAll(this.fh, chunks.map((c) => c.chunk)).then(() => cb(), cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.fh.sync().then(() => cb(), cb);
  }
}

async function writeAll(fh: fsp.FileHandle, bufs: Buffer[]): Promise<void> {
  let rest = bufs;
  while (rest.length > 0) {
    const total = rest.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(rest);
    if (bytesWritten === total) return;
    // Partial write: drop what was written and go on with the remainder.
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** Counts bytes passing through without copying. */
class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Pipes input through transform into output. Errors from the transform propagate unchanged (the caller
 * classifies them); I/O errors become StorageError / UsageError.
 */
export async function transformFile(input: string, output: string, transform: Transform): Promise<TransformResult> {
  if (input !== STDIO && output !== STDIO && path.resolve(input) === path.resolve(output)) {
    throw new UsageError('input and output are the same file');
  }
  const src = await openInput(input);
  const inCount = new Counter({ highWaterMark: HIGH_WATER });
  const outCount = new Counter({ highWaterMark: HIGH_WATER });
  if (output === STDIO) {
    await pipeline(src, inCount, transform, outCount, process.stdout as Writable, { end: false } as never);
    return { bytesIn: inCount.bytes, bytesOut: outCount.bytes };
  }
  const dir = path.dirname(path.resolve(output));
  const tmp = path.join(dir, `.${path.basename(output)}${TMP_MARK}${randomBytes(6).toString('hex')}`);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    src.destroy();
    throw ioError(e, 'cannot write output', output);
  }
  let committed = false;
  try {
    const sink = new FileSink(fh);
    try {
      await pipeline(src, inCount, transform, outCount, sink);
    } catch (e) {
      // Format errors and CLI errors go to the caller as they are; raw I/O errors are storage problems.
      const code = (e as NodeJS.ErrnoException).code;
      if (!(e as { kind?: string }).kind && !(e as { exitCode?: number }).exitCode && typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        throw ioError(e, 'cannot write output', output);
      }
      throw e;
    }
    await fh.close();
    await fsp.rename(tmp, output);
    committed = true;
  } finally {
    if (!committed) {
      await fh.close().catch(() => undefined);
      await fsp.unlink(tmp).catch(() => undefined);
    }
  }
  return { bytesIn: inCount.bytes, bytesOut: outCount.bytes };
}
