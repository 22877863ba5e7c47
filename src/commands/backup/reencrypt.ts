import { Args } from '@oclif/core';
import { TranscodeCommand, transcodeFlags } from '../../cli/transcode-command';
import { keyOptions, keyFlags } from '../../cli/base-command';
import { reencryptTargetFlags, reencryptTargetOptions } from '../../cli/target-key-flags';
import { openKeys } from '../../engines/key-source';
import { openTargetKey } from '../../engines/transcode-target';

export default class BackupReencrypt extends TranscodeCommand {
  static override summary = 'Re-encrypt a backup (or collection) under a new data key, streaming, verified as it goes; SRC is never modified.';

  static override description = `Decrypts every encrypted object of the selected backups (LATEST and its incrementals by default;
--backup SUBDIR; --all) with the source key (--passphrase-file/--passphrase-env, --kms, --cmek) and
encrypts it under a NEW data key per full backup, chosen by the target flags:
  --to-passphrase-file/--to-passphrase-env   a new salt and PBKDF2 key
  --to-kms URI (repeatable)                  a random key wrapped by every KMS (CockroachDB can RESTORE with any)
  --to-cmek URI                              the CMEK -> store key -> data key chain (store key created in DST)
Every object is verified as it is written: the new ciphertext is decrypted again under the new key and
its SHA-256 compared with the source plaintext's before the atomic write completes. -CHECKSUM files are
recomputed, the layout and LATEST are kept. DST must be empty; a CRDB-CMEK-INCOMPLETE marker is written
first and deleted last. An interrupted run is finished with --resume (same flags): the data keys already
in DST are reopened with the target key and objects already written are kept, not redone.`;

  static override examples = [
    '<%= config.bin %> backup reencrypt ./backups ./rotated --passphrase-file old.txt --to-passphrase-file new.txt',
    "<%= config.bin %> backup reencrypt ./backups 's3://bucket/rotated?AUTH=implicit&AWS_REGION=us-east-1' --passphrase-env OLD_PASS --to-kms 'aws-kms:///alias/backup?REGION=us-east-1&AUTH=implicit'",
    '<%= config.bin %> backup reencrypt gs://bucket/backups gs://bucket/rotated --kms gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/old --to-cmek file:///etc/crdb/cmek.key --resume',
  ];

  static override args = {
    src: Args.string({ description: 'the encrypted collection (or one backup directory); only read', required: true }),
    dst: Args.string({ description: 'where the re-encrypted copy goes (must be empty unless --resume)', required: true }),
  };

  static override flags = {
    ...keyFlags,
    ...reencryptTargetFlags,
    ...transcodeFlags,
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupReencrypt);
    return this.runTranscode('reencrypt', args, flags, async (src) => {
      const target = await openTargetKey(reencryptTargetOptions(flags));
      try {
        return { target, source: await openKeys(keyOptions(flags), src) };
      } catch (e) {
        await target.close();
        throw e;
      }
    });
  }
}
