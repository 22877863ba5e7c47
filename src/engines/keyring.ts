/**
 * Finds the data key of a full backup from what the user gave (passphrase, native KMS URIs, a CMEK chain,
 * or a raw data key) and the backup's ENCRYPTION-INFO files (newest first).
 */
import { KeyError, UsageError } from '../errors';
import { deriveKeyFromPassphrase } from '../keys/passphrase';
import { kmsMapKey, type StoredEncryptionInfo } from '../keys/encryption-info';
import type { KmsProvider } from '../kms/provider';

export interface KeyMaterial {
  passphrase?: string;
  kms?: KmsProvider[];
  /** Opens a data key through the CMEK chain (wired by the chain module). */
  chain?: (backupDir: string, infos: StoredEncryptionInfo[]) => Promise<ResolvedKey>;
  /** A raw 32-byte data key (--key-file). */
  dataKey?: Buffer;
}

export interface ResolvedKey {
  key: Buffer;
  /** How the key was found, secret-free: "passphrase", "kms:<key id>", "cmek:<key id>", "key-file". */
  via: string;
  /** The ENCRYPTION-INFO object that held the entry used. */
  infoKey?: string;
}

export function hasKeyMaterial(m: KeyMaterial): boolean {
  return Boolean(m.passphrase !== undefined || m.kms?.length || m.chain || m.dataKey);
}

/** Describes the scheme(s) an ENCRYPTION-INFO set records, for messages and inspect. */
export function describeSchemes(infos: StoredEncryptionInfo[]): string {
  const salt = infos.some((i) => i.info.salt && i.info.salt.length > 0);
  const entries = infos.reduce((n, i) => n + i.info.kmsEntries.length, 0);
  const parts: string[] = [];
  if (salt) parts.push('passphrase');
  if (entries) parts.push(`KMS (${entries} wrapped data key${entries === 1 ? '' : 's'})`);
  return parts.join(' and ') || 'unknown';
}

export class Keyring {
  private readonly derived = new Map<string, Promise<Buffer>>();

  constructor(private readonly m: KeyMaterial) {}

  /** The data key of the full backup in `backupDir`, from its ENCRYPTION-INFO files (newest first). */
  async dataKeyFor(backupDir: string, infos: StoredEncryptionInfo[]): Promise<ResolvedKey> {
    const m = this.m;
    if (!hasKeyMaterial(m)) {
      throw new UsageError(
        `the backup ${backupDir || '.'} is encrypted (${describeSchemes(infos)}): a key is needed`,
        'pass --passphrase-file FILE, --passphrase-env VAR, --kms URI or --cmek URI',
      );
    }
    if (m.dataKey) return { key: m.dataKey, via: 'key-file' };
    if (infos.length === 0) {
      throw new KeyError(
        `no ENCRYPTION-INFO found for the backup ${backupDir || '.'}: it was not written encrypted, or the file is missing`,
      );
    }
    const failures: string[] = [];
    if (m.passphrase !== undefined) {
      const withSalt = infos.find((i) => i.info.salt && i.info.salt.length > 0);
      if (withSalt?.info.salt) {
        const salt = withSalt.info.salt;
        const id = salt.toString('hex');
        let p = this.derived.get(id);
        if (!p) {
          p = deriveKeyFromPassphrase(m.passphrase, salt);
          this.derived.set(id, p);
        }
        return { key: await p, via: 'passphrase', infoKey: withSalt.key };
      }
      failures.push('a passphrase was given, but the backup is not passphrase-encrypted (its ENCRYPTION-INFO has no salt)');
    }
    for (const kms of m.kms ?? []) {
      const id = kmsMapKey(kms.keyId).toString('hex');
      const hit = infos.find((i) => i.info.encryptedDataKeyByKMSMasterKeyID.has(id));
      if (!hit) {
        failures.push(`no ENCRYPTION-INFO entry for the KMS key "${kms.keyId}" (SHA-256 ${id.slice(0, 16)}…)`);
        continue;
      }
      const wrapped = hit.info.encryptedDataKeyByKMSMasterKeyID.get(id) as Buffer;
      const key = await kms.decrypt(wrapped);
      if (key.length !== 32) throw new KeyError(`the KMS key "${kms.keyId}" unwrapped a ${key.length}-byte data key; 32 expected`);
      return { key, via: `kms:${kms.keyId}`, infoKey: hit.key };
    }
    if (m.chain) return m.chain(backupDir, infos);
    const present = infos.flatMap((i) => i.info.kmsEntries.map((e) => e.keyHash.toString('hex').slice(0, 16) + '…'));
    throw new KeyError(
      `${failures.join('; ')}${present.length ? `; entries present for key IDs with SHA-256 ${present.join(', ')}` : ''}`,
      present.length ? 'pass --kms with one of the KMS URIs the backup was written with' : undefined,
    );
  }
}
