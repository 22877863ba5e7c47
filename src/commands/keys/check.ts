import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command';
import { openKms } from '../../kms';
import { checkKey, type KeyCheckResult } from '../../kms/check';
import { secretsOfUri } from '../../redact';

export default class KeysCheck extends BaseCommand {
  static override summary = 'Prove a customer-managed key is usable now: wrap and unwrap a random probe.';
  static override description = `Opens the key service named by CMEK_URI, wraps a random 32-byte probe (the size of a data key) and unwraps it again, then prints the provider, the master key ID (as CockroachDB derives it: the ENCRYPTION-INFO entry for this key is keyed by its SHA-256) and the latency.

Exits 3 with the service's own reason when the key is disabled, scheduled for deletion, missing, forbidden to this identity, or the service is unreachable; exits 2 for a malformed URI or an unknown URI parameter.

URIs (CockroachDB's own syntax; secrets in them are never printed):
  aws-kms:///<key id|ARN|alias>?REGION=<r>&AUTH=implicit|specified&AWS_ACCESS_KEY_ID=..&AWS_SECRET_ACCESS_KEY=..[&AWS_SESSION_TOKEN=..][&AWS_ENDPOINT=..][&ASSUME_ROLE=role[;external_id=x],...]
  gcp-kms:///projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>?AUTH=implicit|specified[&CREDENTIALS=<base64 JSON>|&BEARER_TOKEN=..][&ASSUME_ROLE=sa1,sa2]
  vault-transit:///<mount>/<key>[?VAULT_ADDR=..&VAULT_TOKEN=..&VAULT_NAMESPACE=..&VAULT_CACERT=<pem file>]   (or the same environment variables)
  file:///path/to/store.key   (a CockroachDB store-key file: 32-byte key ID + AES-128/192/256 key)`;

  static override examples = [
    {
      description: 'An AWS KMS key with the SDK default credential chain',
      command: "<%= config.bin %> <%= command.id %> 'aws-kms:///alias/backup-cmek?REGION=us-east-1&AUTH=implicit'",
    },
    {
      description: 'A Google Cloud KMS key (any /cryptoKeyVersions/N suffix is dropped from the key ID)',
      command: "<%= config.bin %> <%= command.id %> 'gcp-kms:///projects/acme/locations/global/keyRings/backups/cryptoKeys/cmek?AUTH=implicit'",
    },
    {
      description: 'A Vault Transit key, address and token from VAULT_ADDR / VAULT_TOKEN, as JSON',
      command: '<%= config.bin %> <%= command.id %> vault-transit:///transit/backup-cmek --json',
    },
    {
      description: 'A store-key file made by `cockroach gen encryption-key` or `keys generate`',
      command: '<%= config.bin %> <%= command.id %> file:///etc/crdb/cmek.key',
    },
  ];

  static override args = {
    CMEK_URI: Args.string({ required: true, description: 'aws-kms:///..., gcp-kms:///..., vault-transit:///<mount>/<key> or file:///path' }),
  };

  static override flags = {
    timeout: Flags.integer({ summary: 'Seconds to wait for each call to the key service.', default: 30, min: 1 }),
  };

  async run(): Promise<KeyCheckResult> {
    const { args, flags } = await this.parse(KeysCheck);
    this.addSecrets(...secretsOfUri(args.CMEK_URI), process.env.VAULT_TOKEN);
    const kms = openKms(args.CMEK_URI, { env: process.env, timeoutMs: flags.timeout * 1000 });
    try {
      const r = await checkKey(kms);
      this.log(`ok: ${r.provider} key ${r.keyId}`);
      this.log(`  uri:      ${r.uri}`);
      this.log(`  latency:  ${r.latencyMs} ms (wrap ${r.encryptMs} ms, unwrap ${r.decryptMs} ms)`);
      return r;
    } finally {
      await kms.close?.().catch(() => undefined);
    }
  }
}
