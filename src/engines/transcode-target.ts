/**
 * The TARGET key of `backup encrypt` / `backup reencrypt`: what protects the new data keys.
 *   - a passphrase: every full backup gets a new random 16-byte salt, key = PBKDF2 (CockroachDB's form);
 *   - native KMS URIs (one or more): a random 32-byte data key per full backup, wrapped by every KMS
 *     with no additional data, ENCRYPTION-INFO keyed by SHA-256 of each master key ID (as BACKUP does);
 *   - a CMEK: the collection's store key (created in the destination when absent, wrapped by the CMEK)
 *     wraps the random data key into an entry of the same ENCRYPTION-INFO (src/chain). KMS URIs and a
 *     CMEK may be combined: one data key, one entry per wrapper.
 * A passphrase cannot be combined with the others (it derives the data key instead of wrapping one).
 */
import { findDataKeyViaChain } from '../chain/chain';
import { UsageError } from '../errors';
import type { StoreKeyBits } from '../keys/store-key';
import { promptHidden, resolvePassphrase } from '../keys/sources';
import { openKms } from '../kms/index';
import type { KmsProvider } from '../kms/provider';
import { secretsOfUri } from '../redact';
import type { ObjectStore } from '../storage/object-store';
import { Keyring } from './keyring';

export interface TargetKeyOptions {
  passphraseFile?: string;
  passphraseEnv?: string;
  kms?: string[];
  cmek?: string;
  storeKeyBits?: StoreKeyBits;
  /** Prompt (twice) for a new passphrase on a TTY when no target is given. */
  prompt?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Flag names for messages, e.g. { passphraseFile: '--to-passphrase-file', ... }. */
  names?: Partial<Record<'passphraseFile' | 'passphraseEnv' | 'kms' | 'cmek', string>>;
}

export interface TargetKey {
  passphrase?: string;
  kms: KmsProvider[];
  cmek?: KmsProvider;
  storeKeyBits: StoreKeyBits;
  /** Secret strings to scrub from messages. */
  secrets: string[];
  /** Secret-free description: "passphrase", "kms (alias/a, alias/b)", "cmek aws-kms:alias/c". */
  describe(): string;
  /** A keyring that reopens data keys written under this target (resume, and read-back checks). */
  keyring(dst: ObjectStore): Keyring;
  close(): Promise<void>;
}

const DEFAULT_NAMES = {
  passphraseFile: '--passphrase-file',
  passphraseEnv: '--passphrase-env',
  kms: '--kms',
  cmek: '--cmek',
};

export async function openTargetKey(o: TargetKeyOptions): Promise<TargetKey> {
  const names = { ...DEFAULT_NAMES, ...o.names };
  const env = o.env ?? process.env;
  const wantsPass = Boolean(o.passphraseFile || o.passphraseEnv);
  const hasWrap = Boolean(o.kms?.length || o.cmek);
  if (wantsPass && hasWrap) {
    throw new UsageError(
      `a passphrase (${names.passphraseFile} / ${names.passphraseEnv}) cannot be combined with ${names.kms} or ${names.cmek}`,
      'a passphrase derives the data key; KMS and CMEK wrap a random one: choose one kind',
    );
  }
  const secrets: string[] = [];
  let passphrase: string | undefined;
  if (wantsPass) {
    passphrase = await resolvePassphrase({ passphraseFile: o.passphraseFile, passphraseEnv: o.passphraseEnv, env });
  } else if (!hasWrap) {
    if (!(o.prompt && process.stdin.isTTY)) {
      throw new UsageError(
        'no target key given',
        `pass ${names.passphraseFile} FILE, ${names.passphraseEnv} VAR, ${names.kms} URI (repeatable) or ${names.cmek} URI`,
      );
    }
    passphrase = await resolvePassphrase({ prompt: true, promptText: 'New passphrase: ', env });
    const again = await promptHidden('Repeat the new passphrase: ');
    if (again !== passphrase) throw new UsageError('the two passphrases differ');
  }
  if (passphrase !== undefined) secrets.push(passphrase);
  const kms = (o.kms ?? []).map((u) => {
    secrets.push(...secretsOfUri(u));
    return openKms(u, { env });
  });
  const seen = new Set<string>();
  for (const k of kms) {
    if (seen.has(k.keyId)) throw new UsageError(`${names.kms} names the key ${k.keyId} twice`);
    seen.add(k.keyId);
  }
  let cmek: KmsProvider | undefined;
  if (o.cmek) {
    secrets.push(...secretsOfUri(o.cmek));
    cmek = openKms(o.cmek, { env });
  }
  const storeKeyBits = o.storeKeyBits ?? 256;
  return {
    passphrase,
    kms,
    cmek,
    storeKeyBits,
    secrets,
    describe() {
      const parts: string[] = [];
      if (passphrase !== undefined) parts.push('passphrase');
      if (kms.length) parts.push(`kms (${kms.map((k) => k.keyId).join(', ')})`);
      if (cmek) parts.push(`cmek ${cmek.provider}:${cmek.keyId} (store key AES-${storeKeyBits})`);
      return parts.join(' + ');
    },
    keyring(dst: ObjectStore) {
      const c = cmek;
      return new Keyring({
        passphrase,
        kms: kms.length ? kms : undefined,
        chain: c
          ? async (dir, infos) => {
              const r = await findDataKeyViaChain(dst, c, infos, dir);
              return { key: r.dataKey, via: `cmek:${c.keyId}`, infoKey: r.infoKey };
            }
          : undefined,
      });
    },
    close: async () => {
      await Promise.all([...kms, ...(cmek ? [cmek] : [])].map((k) => k.close?.()));
    },
  };
}
