/**
 * A key service that wraps and unwraps small secrets: AWS KMS, Google Cloud KMS, Vault Transit, or a
 * key file. Used both for CockroachDB's native KMS entries (no additional data) and as the CMEK of the
 * key chain. One implementation per file; errors are KeyError (exit 3) naming the key and the service's
 * own reason (e.g. "DisabledException: key ... is disabled").
 */
export interface KmsProvider {
  /** 'aws-kms' | 'gcp-kms' | 'vault-transit' | 'file' */
  readonly provider: string;
  /**
   * The master key ID as CockroachDB derives it from the URI (AWS: path without leading '/', verbatim;
   * GCP: path without leading '/' and without '/cryptoKeyVersions/...'). The ENCRYPTION-INFO map key is
   * SHA-256 of this string.
   */
  readonly keyId: string;
  /** Redacted, printable URI. */
  readonly displayUri: string;
  encrypt(plaintext: Buffer): Promise<Buffer>;
  decrypt(ciphertext: Buffer): Promise<Buffer>;
  close?(): Promise<void>;
}
