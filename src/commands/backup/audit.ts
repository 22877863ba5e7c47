import { Args, Flags } from '@oclif/core';
import { BaseCommand, keyOptions, keyFlags, progressFlag } from '../../cli/base-command';
import { concurrencyFlag, reportFlag, storageFlags } from '../../cli/flags';
import { discoverCollection } from '../../backup/layout';
import { audit } from '../../engines/audit';
import { anyKeyOption, openKeys } from '../../engines/key-source';
import { ExitCode, UsageError } from '../../errors';
import { redactUri, scrub, secretsOfUri } from '../../redact';
import { AuditReport } from '../../report/audit-report';
import { ProgressLine } from '../../report/progress';
import { checkReportPath, writeReport } from '../../report/render';
import { openStore } from '../../storage/index';
import { TOOL } from '../../version';

export default class BackupAudit extends BaseCommand {
  static override summary = 'Compliance evidence: every object that must be ciphertext is, nothing opens without the key, and (with --cmek) the CMEK is the only way in.';

  static override description = `Reads every object of the collection once and records its SHA-256. Must-be-ciphertext objects must
carry the "encrypt" preamble, a known format version and a valid size, and show no plaintext signature
(table footer magic, repeated preamble, non-random bytes). Cleartext-by-design objects must hold only what
their format allows (salts and wrapped keys, a path, "lock", 4 checksum bytes, a store-key object) and no
key or passphrase given to this run. Chunk 0 of every must-be-ciphertext object is tried without the key
(an all-zero key, a random key, an empty passphrase) and must not open. With key flags the right key must
open every backup. With --cmek, passphrase salts, native KMS entries and store keys wrapped by other keys
are findings (cmek-bypass), and the CMEK must open the chain now. --expect-revoked turns this into a
revocation drill: it passes only when the CMEK refuses now (its reason is recorded) and nothing opens.
Exit 0 when clean, 1 on any finding, 3 when the key given does not open the data (not in a drill).`;

  static override examples = [
    '<%= config.bin %> backup audit ./coll --passphrase-file pass.txt --report audit.md',
    '<%= config.bin %> backup audit gs://bucket/coll --cmek gcp-kms:///projects/p/locations/l/keyRings/r/cryptoKeys/k --report evidence.json',
    "<%= config.bin %> backup audit s3://bucket/coll --cmek 'aws-kms:///alias/cmek?REGION=us-east-1&AUTH=implicit' --expect-revoked --report drill.json",
  ];

  static override args = {
    uri: Args.string({ description: 'the collection (or one backup directory)', required: true }),
  };

  static override flags = {
    ...keyFlags,
    ...storageFlags,
    ...concurrencyFlag,
    ...reportFlag,
    ...progressFlag,
    'expect-revoked': Flags.boolean({
      summary: 'Revocation drill: pass only if the CMEK refuses now and no object can be read.',
      default: false,
    }),
  };

  public async run(): Promise<unknown> {
    const { args, flags } = await this.parse(BackupAudit);
    this.addSecrets(...secretsOfUri(args.uri));
    checkReportPath(flags.report);
    if (flags['expect-revoked'] && !flags.cmek) throw new UsageError('--expect-revoked needs the CMEK whose revocation is drilled: --cmek URI');
    const store = await openStore(args.uri, { nodelocalRoot: flags['nodelocal-root'] });
    const keyOpts = keyOptions(flags, false);
    const keys = anyKeyOption(keyOpts) ? await openKeys(keyOpts, store) : undefined;
    this.addSecrets(...(keys?.secrets ?? []));
    try {
      const collection = await discoverCollection(store, { all: true });
      const progress = new ProgressLine(ProgressLine.wanted(flags.progress), 'audit');
      const result = await audit({
        store,
        collection,
        keyring: keys?.keyring,
        cmek: keys?.cmek,
        kms: keys?.kms,
        passphrase: keys?.material.passphrase,
        expectRevoked: flags['expect-revoked'],
        concurrency: flags.concurrency,
        onProgress: (p) => progress.update(p),
      });
      progress.done();
      const report = new AuditReport(result, { target: redactUri(args.uri), tool: TOOL });
      if (flags.report) await writeReport(flags.report, report);
      if (!this.jsonEnabled()) this.log(report.display());
      if (result.status === 'key-error') this.note(`Error: ${scrub(result.keyError ?? '', this.secrets)}`);
      process.exitCode = result.status === 'ok' ? ExitCode.ok : result.status === 'key-error' ? ExitCode.key : ExitCode.problems;
      return report.getJson();
    } finally {
      await keys?.close();
      await store.close?.();
    }
  }
}
