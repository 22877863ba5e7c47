import { Args, Flags } from '@oclif/core';
import { BaseCommand, keyOptions, keyFlags, progressFlag } from '../../cli/base-command';
import { concurrencyFlag, reportFlag, selectionFlags, storageFlags } from '../../cli/flags';
import { discoverCollection } from '../../backup/layout';
import { openKeys } from '../../engines/key-source';
import { parseSubset, verify } from '../../engines/verify';
import { ExitCode, UsageError } from '../../errors';
import { redactUri, secretsOfUri } from '../../redact';
import { ProgressLine } from '../../report/progress';
import { checkReportPath, writeReport } from '../../report/render';
import { VerifyReport } from '../../report/verify-report';
import { openStore } from '../../storage/index';
import { TOOL } from '../../version';

export default class BackupVerify extends BaseCommand {
  static override summary = 'Prove a backup will restore: authenticate every chunk, check manifests, completeness and every SST.';

  static override description = `Reads every must-be-ciphertext object of the selected backups (LATEST and its incrementals by default)
and authenticates every AES-GCM chunk under the backup's data key, checks each manifest against its
-CHECKSUM, compares the objects present with the manifest's file list (missing files are errors,
unreferenced ones warnings), and checks every SST's footer, magic and block checksums.
Plaintext is never written anywhere. Exit 0 when everything verifies, 1 on problems, 3 when the key is
wrong (nothing authenticates), 4 on storage errors.`;

  static override examples = [
    '<%= config.bin %> backup verify ./fixtures/collection --passphrase-file pass.txt',
    "<%= config.bin %> backup verify 's3://bucket/backups?AUTH=implicit&AWS_REGION=us-east-1' --kms 'aws-kms:///alias/backup?REGION=us-east-1&AUTH=implicit' --all --report verify.xml",
    '<%= config.bin %> backup verify gs://bucket/backups --cmek gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/k --subset 1/7',
  ];

  static override args = {
    uri: Args.string({ description: 'the collection (or one backup directory): a path, file://, nodelocal://, s3:// or gs:// URI', required: true }),
  };

  static override flags = {
    ...keyFlags,
    ...selectionFlags,
    ...storageFlags,
    ...concurrencyFlag,
    ...reportFlag,
    ...progressFlag,
    sample: Flags.integer({
      summary: 'Spot check: read only this percentage of the data SSTs, chosen at random (manifests are always checked).',
      min: 1,
      max: 100,
      exclusive: ['subset'],
    }),
    subset: Flags.string({
      summary: 'Spot check: read only data SST subset n of t (e.g. 1/7), chosen deterministically by path.',
    }),
    workers: Flags.string({
      summary: 'Worker threads that check objects: a number (0 = none) or auto (one per core on 4+ cores when the selection is 1 GiB or more).',
      default: 'auto',
    }),
    'skip-sst-check': Flags.boolean({
      summary: 'Authenticate every chunk but skip the structural SST checks.',
      default: false,
    }),
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupVerify);
    this.addSecrets(...secretsOfUri(args.uri));
    checkReportPath(flags.report);
    const subset = flags.subset === undefined ? undefined : parseSubset(flags.subset);
    if (flags.subset !== undefined && !subset) throw new UsageError(`--subset ${flags.subset}: expected n/t with 1 <= n <= t, e.g. 1/7`);
    const workers = parseWorkers(flags.workers);
    const store = await openStore(args.uri, { nodelocalRoot: flags['nodelocal-root'] });
    const keys = await openKeys(
      keyOptions(flags),
      store,
    );
    this.addSecrets(...keys.secrets);
    try {
      const collection = await discoverCollection(store, { backup: flags.backup, all: flags.all });
      const progress = new ProgressLine(ProgressLine.wanted(flags.progress), 'verify');
      const result = await verify({
        store,
        collection,
        keyring: keys.keyring,
        concurrency: flags.concurrency,
        samplePercent: flags.sample,
        subset,
        checkSsts: !flags['skip-sst-check'],
        workers,
        workerStore: { uri: args.uri, options: { nodelocalRoot: flags['nodelocal-root'] } },
        onProgress: (p) => progress.update(p),
      });
      progress.done();
      const report = new VerifyReport(result, { target: redactUri(args.uri), tool: TOOL });
      if (flags.report) await writeReport(flags.report, report);
      if (!this.jsonEnabled()) this.log(report.display());
      process.exitCode = result.status === 'ok' ? ExitCode.ok : result.status === 'key-error' ? ExitCode.key : ExitCode.problems;
      return report.getJson();
    } finally {
      await keys.close();
      await store.close?.();
    }
  }
}

/** --workers: "auto" (undefined: the engine decides) or a whole number from 0 to 64. */
function parseWorkers(v: string): number | undefined {
  if (v === 'auto') return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 64) throw new UsageError(`--workers ${v}: expected auto or a whole number from 0 to 64`);
  return Number(v);
}
