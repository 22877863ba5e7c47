/**
 * Where a passphrase comes from: a file, an environment variable, or a hidden prompt on a TTY. Never
 * from argv (it would show in `ps` and shell history).
 */
import { promises as fs } from 'node:fs';
import { UsageError } from '../errors';

export interface PassphraseSources {
  /** File holding the passphrase; one trailing "\n" or "\r\n" is stripped. */
  passphraseFile?: string;
  /** Name of an environment variable holding the passphrase. */
  passphraseEnv?: string;
  /** Allow a hidden prompt when neither is given and stdin is a TTY. */
  prompt?: boolean;
  /** Prompt text (stderr). */
  promptText?: string;
  /** For tests: the environment to read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** True when at least one explicit passphrase source flag was given. */
export function hasPassphraseSource(s: PassphraseSources): boolean {
  return Boolean(s.passphraseFile || s.passphraseEnv);
}

export async function resolvePassphrase(s: PassphraseSources): Promise<string> {
  if (s.passphraseFile && s.passphraseEnv) {
    throw new UsageError('give only one of --passphrase-file and --passphrase-env');
  }
  let value: string;
  if (s.passphraseFile) {
    let raw: Buffer;
    try {
      raw = await fs.readFile(s.passphraseFile);
    } catch (e) {
      throw new UsageError(
        `cannot read passphrase file ${s.passphraseFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    value = raw.toString('utf8').replace(/\r?\n$/, '');
    if (value.length === 0) throw new UsageError(`passphrase file ${s.passphraseFile} is empty`);
    return value;
  }
  if (s.passphraseEnv) {
    const env = s.env ?? process.env;
    const v = env[s.passphraseEnv];
    if (v === undefined) throw new UsageError(`environment variable ${s.passphraseEnv} is not set`);
    if (v.length === 0) throw new UsageError(`environment variable ${s.passphraseEnv} is empty`);
    return v;
  }
  if (s.prompt && process.stdin.isTTY) {
    value = await promptHidden(s.promptText ?? 'Passphrase: ');
    if (value.length === 0) throw new UsageError('empty passphrase');
    return value;
  }
  throw new UsageError(
    'no passphrase given',
    'use --passphrase-file FILE or --passphrase-env VAR (or run on a terminal to be prompted)',
  );
}

/** Reads one line from the TTY without echoing it. */
export function promptHidden(text: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(text);
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    let acc = '';
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(acc);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('interrupted'));
        if (ch === '\u007f' || ch === '\b') acc = acc.slice(0, -1);
        else acc += ch;
      }
    };
    stdin.on('data', onData);
  });
}
