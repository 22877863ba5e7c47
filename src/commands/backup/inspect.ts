import { Args } from '@oclif/core';
import { BaseCommand, keyOptions, keyFlags } from '../../cli/base-command';
import { selectionFlags, storageFlags } from '../../cli/flags';
import { discoverCollection } from '../../backup/layout';
import { anyKeyOption, openKeys } from '../../engines/key-source';
import { inspect } from '../../engines/inspect';
import { redactUri, secretsOfUri } from '../../redact';
import { InspectReport } from '../../report/inspect-report';
import { openStore } from '../../storage/index';

export default class BackupInspect extends BaseCommand {
  static override summary = 'Show what a backup collection holds: backups, incrementals, LATEST, encryption scheme, key IDs, sizes.';

  static override description = `Needs no key: lists every full backup and incremental layer, LATEST, the encryption scheme and the
SHA-256 key IDs in each ENCRYPTION-INFO file, the CMEK chain's store-key objects, times, object counts and
sizes, and which objects are cleartext by design. With a key (--passphrase-file, --kms, --cmek) it also
decrypts the manifests of the selected backups and shows their spans, files, rows and cluster ID.`;

  static override examples = [
    '<%= config.bin %> backup inspect ./fixtures/collection',
    '<%= config.bin %> backup inspect ./fixtures/collection --passphrase-file pass.txt --all',
    "<%= config.bin %> backup inspect 's3://bucket/backups?AUTH=implicit&AWS_REGION=us-east-1' --json",
  ];

  static override args = {
    uri: Args.string({ description: 'the collection (or one backup directory)', required: true }),
  };

  static override flags = { ...keyFlags, ...selectionFlags, ...storageFlags };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupInspect);
    this.addSecrets(...secretsOfUri(args.uri));
    const store = await openStore(args.uri, { nodelocalRoot: flags['nodelocal-root'] });
    const keyOpts = keyOptions(flags, false);
    const keys = anyKeyOption(keyOpts) ? await openKeys(keyOpts, store) : undefined;
    this.addSecrets(...(keys?.secrets ?? []));
    try {
      const collection = await discoverCollection(store, { backup: flags.backup, all: flags.all });
      const result = await inspect({ store, collection, keyring: keys?.keyring });
      const report = new InspectReport(result, redactUri(args.uri));
      if (!this.jsonEnabled()) this.log(report.display());
      return report.getJson();
    } finally {
      await keys?.close();
      await store.close?.();
    }
  }
}
