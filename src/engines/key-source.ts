/**
 * Turns the shared key options (passphrase file/env/prompt, --kms, --cmek, --key-file) into the key
 * material the engines use. The only place where key flags meet key modules.
 */
import { findDataKeyViaChain } from '../chain/chain';
import { readDataKeyFile } from '../keys/keyfile';
import { resolvePassphrase } from '../keys/sources';
import { openKms } from '../kms/index';
import type { KmsProvider } from '../kms/provider';
import { secretsOfUri } from '../redact';
import type { ObjectStore } from '../storage/object-store';
import { hasKeyMaterial, Keyring, type KeyMaterial } from './keyring';

export interface KeyOptions {
  passphraseFile?: string;
  passphraseEnv?: string;
  kms?: string[];
  cmek?: string;
  keyFile?: string;
  /** Prompt for a passphrase on a TTY when no other key source is given. */
  prompt?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface OpenedKeys {
  material: KeyMaterial;
  keyring: Keyring;
  kms: KmsProvider[];
  cmek?: KmsProvider;
  /** Secret strings to scrub from messages (passphrase, URI credentials). */
  secrets: string[];
  close(): Promise<void>;
}

export function anyKeyOption(o: KeyOptions): boolean {
  return Boolean(o.passphraseFile || o.passphraseEnv || o.kms?.length || o.cmek || o.keyFile);
}

/** Opens every key source named; `store` is the collection the CMEK chain's store key lives in. */
export async function openKeys(o: KeyOptions, store?: ObjectStore): Promise<OpenedKeys> {
  const secrets: string[] = [];
  const material: KeyMaterial = {};
  const env = o.env ?? process.env;
  if (o.passphraseFile || o.passphraseEnv || (o.prompt && !anyKeyOption(o) && process.stdin.isTTY)) {
    material.passphrase = await resolvePassphrase({
      passphraseFile: o.passphraseFile,
      passphraseEnv: o.passphraseEnv,
      prompt: o.prompt,
      env,
    });
    secrets.push(material.passphrase);
  }
  const kms = (o.kms ?? []).map((u) => {
    secrets.push(...secretsOfUri(u));
    return openKms(u, { env });
  });
  if (kms.length) material.kms = kms;
  let cmek: KmsProvider | undefined;
  if (o.cmek) {
    secrets.push(...secretsOfUri(o.cmek));
    cmek = openKms(o.cmek, { env });
    const c = cmek;
    if (store) {
      material.chain = async (dir, infos) => {
        const r = await findDataKeyViaChain(store, c, infos, dir);
        return { key: r.dataKey, via: `cmek:${c.keyId}`, infoKey: r.infoKey };
      };
    }
  }
  if (o.keyFile) material.dataKey = await readDataKeyFile(o.keyFile);
  return {
    material,
    keyring: new Keyring(material),
    kms,
    cmek,
    secrets,
    close: async () => {
      await Promise.all([...kms, ...(cmek ? [cmek] : [])].map((k) => k.close?.()));
    },
  };
}

export { hasKeyMaterial };
