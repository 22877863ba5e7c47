import { Args } from '@oclif/core';
import { TranscodeCommand, transcodeFlags } from '../../cli/transcode-command';
import { encryptTargetFlags, encryptTargetOptions } from '../../cli/target-key-flags';
import { openTargetKey } from '../../engines/transcode-target';

export default class BackupEncrypt extends TranscodeCommand {
  static override summary = 'Encrypt a cleartext backup (or collection) under a new key: passphrase, native KMS, or the CMEK chain.';

  static override description = `Copies the selected backups (LATEST and its incrementals by default; --backup SUBDIR; --all) from SRC
to DST, encrypting every object CockroachDB encrypts in an encrypted backup, in its chunked AES-GCM format.
Each full backup gets a NEW data key and its own ENCRYPTION-INFO, written exactly as CockroachDB's BACKUP
writes it (incrementals share their full backup's key):
  --passphrase-file/--passphrase-env   a new random 16-byte salt; key = PBKDF2-SHA256(passphrase, salt, 64000)
  --kms URI (repeatable)               a random 32-byte key wrapped by every KMS; map keyed by SHA-256 of each key ID
  --cmek URI                           a chain entry under the collection's store key (created in DST if absent)
--kms and --cmek may be combined. Every object is verified as it is written (the new ciphertext is
decrypted again and compared with the source). -CHECKSUM files are recomputed; an input object that is
already encrypted is refused. Ordering, the incomplete marker and --resume work as in backup decrypt.`;

  static override examples = [
    '<%= config.bin %> backup encrypt ./clear ./encrypted --passphrase-file new-pass.txt',
    "<%= config.bin %> backup encrypt ./clear 's3://bucket/enc?AUTH=implicit&AWS_REGION=us-east-1' --kms 'aws-kms:///alias/a?REGION=us-east-1&AUTH=implicit' --kms 'aws-kms:///alias/dr?REGION=us-west-2&AUTH=implicit'",
    '<%= config.bin %> backup encrypt ./clear ./encrypted --cmek file:///etc/crdb/cmek.key --store-key-size 128 --json',
  ];

  static override args = {
    src: Args.string({ description: 'the cleartext collection (or one backup directory)', required: true }),
    dst: Args.string({ description: 'where the encrypted copy goes (must be empty unless --resume)', required: true }),
  };

  static override flags = {
    ...encryptTargetFlags,
    ...transcodeFlags,
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupEncrypt);
    return this.runTranscode('encrypt', args, flags, async () => ({ target: await openTargetKey(encryptTargetOptions(flags)) }));
  }
}
