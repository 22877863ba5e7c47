/**
 * Arguments and key flags shared by `file encrypt` and `file decrypt`. Kept outside src/commands so
 * oclif does not take it for a command.
 */
import { Args, Flags } from '@oclif/core';
import { keyFlags } from './base-command';
import type { FileKeyOptions } from '../keys/file-key';

export const fileArgs = {
  in: Args.string({ description: 'input file, or - for stdin', required: true }),
  out: Args.string({ description: 'output file, or - for stdout', required: true }),
};

export const fileKeyFlags = {
  'key-file': Flags.string({
    summary: 'Raw 32-byte data key: a file of 32 binary bytes or 64 hex characters.',
    helpGroup: 'KEY',
  }),
  'passphrase-file': keyFlags['passphrase-file'],
  'passphrase-env': keyFlags['passphrase-env'],
  'salt-hex': Flags.string({
    summary: 'The 16-byte PBKDF2 salt as 32 hex characters (with a passphrase).',
    helpGroup: 'KEY',
  }),
  'encryption-info': Flags.string({
    summary: "A backup's ENCRYPTION-INFO file holding the salt (with a passphrase).",
    description: 'file encrypt writes a new one with a fresh salt when the file does not exist yet.',
    helpGroup: 'KEY',
  }),
};

/** The file-key options both file commands pass to resolveFileKey (prompt only on a terminal, never when reading stdin). */
export function fileKeyOptions(
  mode: 'encrypt' | 'decrypt',
  input: string,
  flags: { 'key-file'?: string; 'passphrase-file'?: string; 'passphrase-env'?: string; 'salt-hex'?: string; 'encryption-info'?: string },
): FileKeyOptions {
  return {
    mode,
    keyFile: flags['key-file'],
    passphraseFile: flags['passphrase-file'],
    passphraseEnv: flags['passphrase-env'],
    saltHex: flags['salt-hex'],
    encryptionInfo: flags['encryption-info'],
    prompt: input !== '-' && Boolean(process.stdin.isTTY),
  };
}
