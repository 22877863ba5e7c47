/**
 * Flags naming the TARGET key of `backup encrypt` (plain names: it has no source key) and `backup
 * reencrypt` (--to-* names: the plain names are the source key there), plus --resume. Kept outside
 * src/commands so oclif does not load it as a command.
 */
import { Flags } from '@oclif/core';
import type { StoreKeyBits } from '../keys/store-key';
import type { TargetKeyOptions } from '../engines/transcode-target';

const storeKeySize = Flags.string({
  summary: 'Size of a NEW store key created for --cmek / --to-cmek (an existing one in the destination is reused).',
  options: ['128', '192', '256'],
  default: '256',
  helpGroup: 'TARGET KEY',
});

/** `backup encrypt`: the new key, with the usual key flag names. */
export const encryptTargetFlags = {
  'passphrase-file': Flags.string({
    summary: 'Protect the new data keys with the passphrase in this file (a new random salt per full backup).',
    helpGroup: 'TARGET KEY',
  }),
  'passphrase-env': Flags.string({
    summary: 'Protect the new data keys with the passphrase in this environment variable.',
    helpGroup: 'TARGET KEY',
  }),
  kms: Flags.string({
    summary: 'Wrap a new random data key with this native KMS (aws-kms:///..., gcp-kms:///...); repeatable: every KMS opens it.',
    multiple: true,
    helpGroup: 'TARGET KEY',
  }),
  cmek: Flags.string({
    summary: 'Protect the new data keys with the CMEK -> store key -> data key chain under this CMEK.',
    description: 'aws-kms:///..., gcp-kms:///..., vault-transit:///<mount>/<key> or file:///path/to/store.key',
    helpGroup: 'TARGET KEY',
  }),
  'store-key-size': storeKeySize,
};

/** `backup reencrypt`: the new key, with --to-* names. */
export const reencryptTargetFlags = {
  'to-passphrase-file': Flags.string({
    summary: 'New key: the passphrase in this file (a new random salt per full backup).',
    helpGroup: 'TARGET KEY',
  }),
  'to-passphrase-env': Flags.string({
    summary: 'New key: the passphrase in this environment variable.',
    helpGroup: 'TARGET KEY',
  }),
  'to-kms': Flags.string({
    summary: 'New key: a random data key wrapped by this native KMS URI; repeatable.',
    multiple: true,
    helpGroup: 'TARGET KEY',
  }),
  'to-cmek': Flags.string({
    summary: 'New key: the CMEK -> store key -> data key chain under this CMEK URI.',
    description: 'aws-kms:///..., gcp-kms:///..., vault-transit:///<mount>/<key> or file:///path/to/store.key',
    helpGroup: 'TARGET KEY',
  }),
  'store-key-size': storeKeySize,
};

export const resumeFlag = {
  resume: Flags.boolean({
    summary: 'Finish an interrupted run into the same destination: reuse its keys, keep the objects already written.',
    default: false,
  }),
};

export function encryptTargetOptions(f: {
  'passphrase-file'?: string;
  'passphrase-env'?: string;
  kms?: string[];
  cmek?: string;
  'store-key-size'?: string;
}): TargetKeyOptions {
  return {
    passphraseFile: f['passphrase-file'],
    passphraseEnv: f['passphrase-env'],
    kms: f.kms,
    cmek: f.cmek,
    storeKeyBits: Number(f['store-key-size'] ?? 256) as StoreKeyBits,
    prompt: true,
  };
}

export function reencryptTargetOptions(f: {
  'to-passphrase-file'?: string;
  'to-passphrase-env'?: string;
  'to-kms'?: string[];
  'to-cmek'?: string;
  'store-key-size'?: string;
}): TargetKeyOptions {
  return {
    passphraseFile: f['to-passphrase-file'],
    passphraseEnv: f['to-passphrase-env'],
    kms: f['to-kms'],
    cmek: f['to-cmek'],
    storeKeyBits: Number(f['store-key-size'] ?? 256) as StoreKeyBits,
    prompt: false,
    names: { passphraseFile: '--to-passphrase-file', passphraseEnv: '--to-passphrase-env', kms: '--to-kms', cmek: '--to-cmek' },
  };
}
