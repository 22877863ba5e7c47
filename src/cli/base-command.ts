/**
 * The base of every command: shared flags, one error handler, and the exit codes of spec/cli.md.
 * Commands stay thin: parse flags, call a library module, render with a formatter.
 */
import { Command, Flags, Errors } from '@oclif/core';
import { CliError, ExitCode } from '../errors';
import { scrub, secretsOfUri } from '../redact';
import type { KeyOptions } from '../engines/key-source';

/** Key-source flags shared by every command that reads or writes encrypted data. */
export const keyFlags = {
  'passphrase-file': Flags.string({
    summary: 'Read the backup passphrase from this file (trailing newline ignored).',
    helpGroup: 'KEY',
  }),
  'passphrase-env': Flags.string({
    summary: 'Read the backup passphrase from this environment variable.',
    helpGroup: 'KEY',
  }),
  kms: Flags.string({
    summary: "A native CockroachDB KMS URI (aws-kms:///..., gcp-kms:///...); repeatable.",
    multiple: true,
    helpGroup: 'KEY',
  }),
  cmek: Flags.string({
    summary: 'A customer-managed key URI for the CMEK -> store key -> data key chain.',
    description: 'aws-kms:///..., gcp-kms:///..., vault-transit:///<mount>/<key> or file:///path/to/store.key',
    helpGroup: 'KEY',
  }),
};

/** The key options of the shared key flags (passphrase file/env, --kms, --cmek). */
export function keyOptions(
  flags: { 'passphrase-file'?: string; 'passphrase-env'?: string; kms?: string[]; cmek?: string },
  prompt = true,
): KeyOptions {
  return { passphraseFile: flags['passphrase-file'], passphraseEnv: flags['passphrase-env'], kms: flags.kms, cmek: flags.cmek, prompt };
}

export const progressFlag = {
  progress: Flags.boolean({
    summary: 'Show progress on stderr even when it is not a terminal.',
    default: false,
  }),
};

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Secret strings (passphrases, URI credentials) scrubbed from any error message we print. */
  protected secrets: string[] = [];

  protected addSecrets(...values: (string | undefined)[]): void {
    for (const v of values) if (v) this.secrets.push(v);
  }

  /** Writes a line to stderr (progress, notes): stdout stays for data. */
  protected note(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own exit (this.exit) and help requests pass through untouched.
    if (err instanceof Errors.ExitError) throw err;
    let code: number = ExitCode.problems;
    let message = err?.message ?? String(err);
    let hint: string | undefined;
    if (err instanceof CliError) {
      code = err.exitCode;
      hint = err.hint;
    } else if (err instanceof Errors.CLIError || (err as { oclif?: { exit?: number } }).oclif) {
      // Flag parsing and validation errors from oclif: usage errors.
      code = ExitCode.usage;
      message = message.replace(/\n\s*See more help with --help$/m, '');
      hint = `see ${this.config.bin} ${this.id?.replace(/:/g, ' ') ?? ''} --help`.trim();
    } else if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
      return undefined;
    } else {
      message = `internal error: ${message}`;
    }
    // Errors raised while parsing (e.g. oclif's "Unexpected argument: <uri>") come before run() could
    // register the URIs' secrets: scrub the secrets of every raw argument too.
    for (const a of this.argv ?? []) this.addSecrets(...secretsOfUri(a));
    message = scrub(message, this.secrets);
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({ status: 'error', error: { message, exitCode: code } }, null, 2)}\n`);
    }
    process.stderr.write(`Error: ${message}\n`);
    if (hint) process.stderr.write(`Hint: ${scrub(hint, this.secrets)}\n`);
    process.exitCode = code;
    return undefined;
  }
}
