/**
 * One mapping from format errors to the CLI's exit codes (spec/cli.md), for every command that decrypts:
 * - chunk 0 does not authenticate: a key problem (exit 3) - "wrong key, or the file is damaged at its start";
 * - a later chunk does not authenticate, or data follows the final chunk: damage (exit 1), naming chunk
 *   and byte offset;
 * - truncated, short header, not encrypted, unsupported version: damage (exit 1) with the specific message.
 */
import { CliError, IntegrityError, KeyError } from '../errors';
import { AuthenticationError, FormatError, TrailingDataError } from './errors';

/** True for errors of the encrypted file format. */
export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}

/**
 * Turns a format error into the CliError to report for `subject` (a file name or object key, already
 * free of secrets). Other errors are returned unchanged.
 */
export function classifyFormatError(e: unknown, subject?: string): unknown {
  if (!(e instanceof FormatError)) return e;
  const where = subject ? `${subject}: ` : '';
  if (e instanceof AuthenticationError) {
    if (e.chunk === 0) {
      return new KeyError(
        `${where}wrong key, or the file is damaged at its start (chunk 0 at byte offset ${e.offset} does not authenticate)`,
        'check the key file or passphrase (and the salt / ENCRYPTION-INFO it goes with)',
      );
    }
    return new IntegrityError(
      `${where}chunk ${e.chunk} at byte offset ${e.offset} does not authenticate: the file is damaged (earlier chunks verified, so the key is right)`,
    );
  }
  if (e instanceof TrailingDataError) return new IntegrityError(`${where}${e.message}`);
  return new IntegrityError(`${where}${e.message}`);
}

/** Exit code a format error maps to (1 or 3), or undefined for other errors. */
export function formatErrorExitCode(e: unknown): number | undefined {
  const c = classifyFormatError(e);
  return c instanceof CliError && e instanceof FormatError ? c.exitCode : undefined;
}
