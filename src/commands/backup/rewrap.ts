import { Args, Flags } from '@oclif/core';
import { BaseCommand, keyOptions, keyFlags } from '../../cli/base-command';
import { selectionFlags, storageFlags } from '../../cli/flags';
import { discoverCollection } from '../../backup/layout';
import { openKeys } from '../../engines/key-source';
import { rewrap, type RewrapAction } from '../../engines/rewrap';
import { UsageError } from '../../errors';
import type { StoreKeyBits } from '../../keys/store-key';
import { openKms } from '../../kms/index';
import type { KmsProvider } from '../../kms/provider';
import { redactUri, secretsOfUri } from '../../redact';
import { RewrapReport } from '../../report/rewrap-report';
import { openStore } from '../../storage/index';
import { TOOL } from '../../version';

export default class BackupRewrap extends BaseCommand {
  static override summary = 'Change the key that opens a collection without rewriting any data object.';

  static override description = `Exactly one of:
  --add-kms URI      adds a native CockroachDB KMS entry to each selected full backup (a new
                     ENCRYPTION-INFO-N, as ALTER BACKUP ... ADD NEW_KMS writes it), so CockroachDB can
                     RESTORE with that KMS. The current key may be a passphrase, a KMS or the CMEK chain.
  --to-cmek URI      moves the CMEK chain to a new CMEK: one new store-key object (O(1) for the collection).
  --new-store-key    rotates the store key: a new store-key object and a new ENCRYPTION-INFO-N per backup.
The current key comes from the usual key flags. Nothing is overwritten; every change is verified by opening
the data through the new path before success is reported. The old path stays unless --retire-old.
Exit 0 on success, 2 on usage errors, 3 when a key refuses or does not open the data, 4 on storage errors.`;

  static override examples = [
    "<%= config.bin %> backup rewrap ./coll --passphrase-file pass.txt --add-kms 'aws-kms:///alias/dr?REGION=us-east-1&AUTH=implicit'",
    '<%= config.bin %> backup rewrap gs://bucket/coll --cmek gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/old --to-cmek gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/new --retire-old',
    '<%= config.bin %> backup rewrap s3://bucket/coll --cmek vault-transit:///transit/cmek --new-store-key --all',
  ];

  static override args = {
    uri: Args.string({ description: 'the collection (or one backup directory)', required: true }),
  };

  static override flags = {
    ...keyFlags,
    ...selectionFlags,
    ...storageFlags,
    'add-kms': Flags.string({
      summary: 'Add a native KMS entry for this KMS URI (repeatable: all go into one new ENCRYPTION-INFO-N).',
      multiple: true,
      exclusive: ['to-cmek', 'new-store-key'],
    }),
    'to-cmek': Flags.string({
      summary: 'Move the CMEK chain to this CMEK URI (rewraps the store key).',
      exclusive: ['add-kms', 'new-store-key'],
    }),
    'new-store-key': Flags.boolean({
      summary: 'Rotate the store key: new entries for every selected full backup.',
      default: false,
      exclusive: ['add-kms', 'to-cmek'],
    }),
    'store-key-size': Flags.string({
      summary: 'Size of the new store key in bits (default: the size of the current one).',
      options: ['128', '192', '256'],
    }),
    'retire-old': Flags.boolean({
      summary: 'After the new path is verified, delete the old path (the old CMEK\'s or old store keys\' store-key objects).',
      default: false,
    }),
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupRewrap);
    this.addSecrets(...secretsOfUri(args.uri));
    const n = (flags['add-kms']?.length ? 1 : 0) + (flags['to-cmek'] ? 1 : 0) + (flags['new-store-key'] ? 1 : 0);
    if (n !== 1) throw new UsageError('give exactly one of --add-kms URI, --to-cmek URI or --new-store-key');
    if (flags['store-key-size'] && !flags['new-store-key']) throw new UsageError('--store-key-size goes with --new-store-key');
    for (const u of [...(flags['add-kms'] ?? []), flags['to-cmek']]) this.addSecrets(...secretsOfUri(u ?? ''));

    const store = await openStore(args.uri, { nodelocalRoot: flags['nodelocal-root'] });
    const opened: KmsProvider[] = [];
    const keys = await openKeys(
      keyOptions(flags),
      store,
    );
    this.addSecrets(...keys.secrets);
    try {
      let action: RewrapAction;
      if (flags['add-kms']?.length) {
        for (const u of flags['add-kms']) opened.push(openKms(u));
        action = { kind: 'add-kms', kms: opened };
      } else if (flags['to-cmek']) {
        opened.push(openKms(flags['to-cmek']));
        action = { kind: 'to-cmek', newCmek: opened[0] };
      } else {
        action = { kind: 'new-store-key', bits: flags['store-key-size'] ? (Number(flags['store-key-size']) as StoreKeyBits) : undefined };
      }
      const collection = await discoverCollection(store, { backup: flags.backup, all: flags.all });
      const result = await rewrap({ store, collection, keyring: keys.keyring, cmek: keys.cmek, action, retireOld: flags['retire-old'] });
      const report = new RewrapReport(result, { target: redactUri(args.uri), tool: TOOL });
      if (!this.jsonEnabled()) this.log(report.display());
      return report.getJson();
    } finally {
      await Promise.all(opened.map((k) => k.close?.()));
      await keys.close();
      await store.close?.();
    }
  }
}
