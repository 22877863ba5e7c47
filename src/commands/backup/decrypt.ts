import { Args } from '@oclif/core';
import { TranscodeCommand, transcodeFlags } from '../../cli/transcode-command';
import { keyOptions, keyFlags } from '../../cli/base-command';
import { openKeys } from '../../engines/key-source';

export default class BackupDecrypt extends TranscodeCommand {
  static override summary = 'Decrypt a backup (or collection) into a cleartext copy CockroachDB can RESTORE without encryption options.';

  static override description = `Copies the selected backups (LATEST and its incrementals by default; --backup SUBDIR; --all) from SRC
to DST, decrypting every encrypted object. Every chunk is authenticated before its plaintext is written,
and each DST object is written atomically. Manifests stay gzip-compressed protobuf, -CHECKSUM files are
recomputed, ENCRYPTION-INFO is dropped, BACKUP-LOCK and LATEST pointers are copied, the layout is kept.

Before writing anything the key is checked against every manifest (a wrong key exits 3, a damaged
source 1, with DST left untouched). DST must be empty. While running, DST holds a CRDB-CMEK-INCOMPLETE
marker, written first and deleted last: verify reports such a DST as incomplete. An interrupted run is
finished with --resume (objects already written are kept) or DST is deleted.
SRC is only read. Exit 0 done, 1 damaged source, 2 usage, 3 key, 4 storage.`;

  static override examples = [
    '<%= config.bin %> backup decrypt ./backups /tmp/clear --passphrase-file pass.txt',
    "<%= config.bin %> backup decrypt 's3://bucket/backups?AUTH=implicit&AWS_REGION=us-east-1' ./clear --kms 'aws-kms:///alias/backup?REGION=us-east-1&AUTH=implicit' --all",
    '<%= config.bin %> backup decrypt gs://bucket/backups ./clear --cmek file:///etc/crdb/cmek.key --resume --json',
  ];

  static override args = {
    src: Args.string({ description: 'the encrypted collection (or one backup directory): a path, file://, nodelocal://, s3:// or gs:// URI', required: true }),
    dst: Args.string({ description: 'where the cleartext copy goes (must be empty unless --resume)', required: true }),
  };

  static override flags = {
    ...keyFlags,
    ...transcodeFlags,
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupDecrypt);
    return this.runTranscode('decrypt', args, flags, async (src) => ({ source: await openKeys(keyOptions(flags), src) }));
  }
}
