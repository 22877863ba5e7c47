/**
 * Raw data-key files for the `file` commands: exactly 32 bytes of binary, or 64 hexadecimal characters
 * with an optional trailing newline.
 */
import { promises as fs } from 'node:fs';
import { UsageError } from '../errors';

export const DATA_KEY_LENGTH = 32;

/** Parses the contents of a data-key file; throws UsageError (never echoing the contents) otherwise. */
export function parseDataKey(buf: Buffer, what = 'key file'): Buffer {
  if (buf.length === DATA_KEY_LENGTH) return Buffer.from(buf);
  const text = buf.toString('latin1').replace(/\r?\n$/, '');
  if (text.length === 2 * DATA_KEY_LENGTH && /^[0-9a-fA-F]+$/.test(text)) return Buffer.from(text, 'hex');
  throw new UsageError(
    `${what} is not a data key: it must hold exactly 32 bytes of binary, or 64 hexadecimal characters ` +
      `(optionally followed by a newline); it holds ${buf.length} bytes`,
  );
}

/** Reads a raw data-key file. */
export async function readDataKeyFile(path: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseDataKey(buf, `key file ${path}`);
}
