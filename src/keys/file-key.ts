/**
 * The data key of the `file encrypt` / `file decrypt` commands: a raw key file, or a passphrase with the
 * salt from `--salt-hex` or an ENCRYPTION-INFO file. Encrypting with a passphrase and no salt generates a
 * salt and writes a new ENCRYPTION-INFO file (exclusive create), so the output can be decrypted later.
 */
import { promises as fs } from 'node:fs';
import { UsageError } from '../errors';
import {
  decodeEncryptionInfo,
  encodeEncryptionInfo,
  EncryptionInfoDecodeError,
  passphraseEncryptionInfo,
} from './encryption-info';
import { readDataKeyFile } from './keyfile';
import { deriveKeyFromPassphrase, generateSalt, SALT_LENGTH } from './passphrase';
import { resolvePassphrase } from './sources';
import { writeSecretFile } from './write-key-file';

export interface FileKeyOptions {
  mode: 'encrypt' | 'decrypt';
  keyFile?: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  saltHex?: string;
  encryptionInfo?: string;
  /** A hidden prompt is allowed (stdin is a TTY and not the data input). */
  prompt: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface FileKey {
  key: Buffer;
  /** Where the key came from, for messages: "key file", "passphrase". */
  source: 'key-file' | 'passphrase';
  /** Strings to scrub from any output (passphrase, key hex). */
  secrets: string[];
  /** Set when encrypt generated a salt and wrote this ENCRYPTION-INFO file. */
  wroteEncryptionInfo?: string;
  /** Undo the ENCRYPTION-INFO write (when the encryption itself failed). */
  rollback(): Promise<void>;
}

function parseSaltHex(hex: string): Buffer {
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== SALT_LENGTH * 2) {
    throw new UsageError(`--salt-hex must be ${SALT_LENGTH * 2} hexadecimal characters (a ${SALT_LENGTH}-byte salt)`);
  }
  return Buffer.from(hex, 'hex');
}

async function readSaltFromInfo(file: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await fs.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read ENCRYPTION-INFO file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let salt: Buffer | undefined;
  try {
    salt = decodeEncryptionInfo(raw).salt;
  } catch (e) {
    if (e instanceof EncryptionInfoDecodeError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  }
  if (!salt) {
    throw new UsageError(`${file} holds no passphrase salt (it belongs to a KMS-encrypted backup)`);
  }
  return salt;
}

export async function resolveFileKey(o: FileKeyOptions): Promise<FileKey> {
  const noop = async (): Promise<void> => undefined;
  const passphraseGiven = Boolean(o.passphraseFile || o.passphraseEnv);
  if (o.keyFile) {
    if (passphraseGiven || o.saltHex || o.encryptionInfo) {
      throw new UsageError('give either --key-file, or a passphrase (with --salt-hex or --encryption-info), not both');
    }
    const key = await readDataKeyFile(o.keyFile);
    return { key, source: 'key-file', secrets: [key.toString('hex'), key.toString('hex').toUpperCase()], rollback: noop };
  }
  if (o.saltHex && o.encryptionInfo) throw new UsageError('give only one of --salt-hex and --encryption-info');
  if (!passphraseGiven && !o.prompt) {
    throw new UsageError(
      'no key given',
      'use --key-file FILE, or --passphrase-file FILE / --passphrase-env VAR with --salt-hex HEX or --encryption-info FILE',
    );
  }
  if (!o.saltHex && !o.encryptionInfo) {
    throw new UsageError(
      o.mode === 'decrypt'
        ? 'a passphrase needs the salt it was used with: give --salt-hex HEX or --encryption-info FILE (the backup\'s ENCRYPTION-INFO)'
        : 'encrypting with a passphrase needs a salt: give --encryption-info FILE (a new salt is generated and written there) or --salt-hex HEX',
    );
  }
  // Check the salt source before asking for the passphrase.
  let salt: Buffer | undefined;
  let writeInfo: string | undefined;
  if (o.saltHex) salt = parseSaltHex(o.saltHex);
  else if (o.encryptionInfo) {
    const exists = await fs
      .stat(o.encryptionInfo)
      .then(() => true)
      .catch(() => false);
    if (exists || o.mode === 'decrypt') salt = await readSaltFromInfo(o.encryptionInfo);
    else writeInfo = o.encryptionInfo;
  }
  const passphrase = await resolvePassphrase({
    passphraseFile: o.passphraseFile,
    passphraseEnv: o.passphraseEnv,
    prompt: o.prompt,
    env: o.env,
  });
  const secrets = [passphrase];
  if (writeInfo) {
    salt = generateSalt();
    await writeSecretFile(writeInfo, encodeEncryptionInfo(passphraseEncryptionInfo(salt)));
  }
  const key = await deriveKeyFromPassphrase(passphrase, salt as Buffer);
  secrets.push(key.toString('hex'));
  const written = writeInfo;
  return {
    key,
    source: 'passphrase',
    secrets,
    wroteEncryptionInfo: written,
    rollback: written ? () => fs.unlink(written).catch(() => undefined) : noop,
  };
}
