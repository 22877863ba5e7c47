/**
 * The shared body of `backup decrypt`, `backup encrypt` and `backup reencrypt`: open both stores and
 * the keys, run the transcode engine with progress, render the summary, and close everything. Kept
 * outside src/commands so oclif does not load it as a command.
 */
import { discoverCollection } from '../backup/layout';
import type { OpenedKeys } from '../engines/key-source';
import { transcode, type TranscodeMode, type TranscodeProgress } from '../engines/transcode';
import { transcodeJson, transcodeText } from '../engines/transcode-summary';
import type { TargetKey } from '../engines/transcode-target';
import { redactUri, secretsOfUri } from '../redact';
import { ProgressLine } from '../report/progress';
import { openStore } from '../storage/index';
import type { ObjectStore } from '../storage/object-store';
import { TOOL } from '../version';
import { BaseCommand, progressFlag } from './base-command';
import { concurrencyFlag, selectionFlags, storageFlags } from './flags';
import { resumeFlag } from './target-key-flags';

/** The flags every transcode command has besides its key flags. */
export const transcodeFlags = {
  ...selectionFlags,
  ...storageFlags,
  ...concurrencyFlag,
  ...resumeFlag,
  ...progressFlag,
};

export interface TranscodeFlags {
  backup?: string;
  all: boolean;
  concurrency: number;
  resume: boolean;
  progress: boolean;
  'nodelocal-root'?: string;
}

export interface TranscodeKeys {
  /** Opens each SRC backup's data key (decrypt, reencrypt). */
  source?: OpenedKeys;
  /** Protects the new data keys (encrypt, reencrypt). */
  target?: TargetKey;
}

export abstract class TranscodeCommand extends BaseCommand {
  /**
   * Runs one transcode. `openKeys` is called once the SRC store is open (the CMEK chain's store key
   * lives in the collection), before anything is written.
   */
  protected async runTranscode(
    mode: TranscodeMode,
    args: { src: string; dst: string },
    flags: TranscodeFlags,
    openKeys: (src: ObjectStore) => Promise<TranscodeKeys>,
  ): Promise<unknown> {
    this.addSecrets(...secretsOfUri(args.src), ...secretsOfUri(args.dst));
    const src = await openStore(args.src, { nodelocalRoot: flags['nodelocal-root'] });
    const dst = await openStore(args.dst, { nodelocalRoot: flags['nodelocal-root'] });
    let keys: TranscodeKeys = {};
    try {
      keys = await openKeys(src);
      this.addSecrets(...(keys.source?.secrets ?? []), ...(keys.target?.secrets ?? []));
      const collection = await discoverCollection(src, { backup: flags.backup, all: flags.all });
      const progress = new ProgressLine(ProgressLine.wanted(flags.progress), mode);
      let state: TranscodeProgress | undefined;
      const result = await transcode({
        mode,
        src,
        dst,
        collection,
        sourceKeyring: keys.source?.keyring,
        target: keys.target,
        concurrency: flags.concurrency,
        resume: flags.resume,
        sourceDisplay: redactUri(args.src),
        tool: TOOL,
        onProgress: (p) => {
          state = p;
          progress.update(p);
        },
      });
      progress.done(state);
      const summary = { ...result, destination: redactUri(args.dst) };
      if (!this.jsonEnabled()) this.log(transcodeText(summary));
      return transcodeJson(summary);
    } finally {
      await keys.source?.close();
      await keys.target?.close();
      await src.close?.();
      await dst.close?.();
    }
  }
}
