/**
 * Opens a key service from its URI, dispatching by scheme:
 *   aws-kms:///<key>?REGION=..   aws:///...        AWS KMS            (aws-kms.ts)
 *   gcp-kms:///projects/...      gs:///...         Google Cloud KMS   (gcp-kms.ts)
 *   vault-transit:///<mount>/<key>                 Vault Transit      (vault-transit.ts)
 *   file:///path/to/store.key                      file CMEK          (file-cmek.ts)
 * Bad URIs are UsageErrors (exit 2); a key file that cannot be read is a KeyError (exit 3). Opening
 * makes no network call: the first encrypt/decrypt does.
 */
import { UsageError } from '../errors';
import { redactUri } from '../redact';
import type { KmsProvider } from './provider';
import { AwsKmsProvider } from './aws-kms';
import { GcpKmsProvider } from './gcp-kms';
import { VaultTransitProvider } from './vault-transit';
import { FileCmekProvider } from './file-cmek';

export type { KmsProvider } from './provider';
export { AwsKmsProvider } from './aws-kms';
export { GcpKmsProvider, gcpKeyId } from './gcp-kms';
export { VaultTransitProvider, vaultCiphertextVersion } from './vault-transit';
export { FileCmekProvider, readStoreKeyFile } from './file-cmek';
export { KmsRefusedError } from './kms-error';
export { checkKey, type KeyCheckResult } from './check';

export interface OpenKmsOptions {
  /** Environment for VAULT_* defaults and test endpoint overrides (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Base directory for relative file: paths (default process.cwd()). */
  cwd?: string;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
  /** Attempts for throttled calls. */
  maxAttempts?: number;
  retryBaseMs?: number;
}

export const KMS_SCHEMES = ['aws-kms', 'aws', 'gcp-kms', 'gs', 'vault-transit', 'file'] as const;

export function kmsScheme(uri: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(uri.trim())?.[1].toLowerCase();
}

export function openKms(uri: string, opts: OpenKmsOptions = {}): KmsProvider {
  const scheme = kmsScheme(uri);
  switch (scheme) {
    case 'aws-kms':
    case 'aws':
      return new AwsKmsProvider(uri, opts);
    case 'gcp-kms':
    case 'gs':
      return new GcpKmsProvider(uri, opts);
    case 'vault-transit':
      return new VaultTransitProvider(uri, opts);
    case 'file':
      return new FileCmekProvider(uri, opts);
    default:
      throw new UsageError(
        `unsupported KMS scheme${scheme ? ` "${scheme}"` : ''} in ${redactUri(uri)}`,
        'use aws-kms:///..., gcp-kms:///..., vault-transit:///<mount>/<key> or file:///path/to/store.key',
      );
  }
}
