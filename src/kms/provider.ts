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
  /**
   * Wraps a small secret. `aad` (optional) is additional authenticated data that must be given again
   * to decrypt: AWS EncryptionContext {"crdb-cmek-aad": base64(aad)}, GCP additionalAuthenticatedData,
   * Vault SHA-256(aad) prepended to the plaintext, file CMEK the GCM additional data. CockroachDB's
   * native KMS entries are made and read WITHOUT aad.
   */
  encrypt(plaintext: Buffer, aad?: Buffer): Promise<Buffer>;
  decrypt(ciphertext: Buffer, aad?: Buffer): Promise<Buffer>;
  close?(): Promise<void>;
}
