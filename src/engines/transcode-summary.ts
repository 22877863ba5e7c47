/**
 * What decrypt / encrypt / reencrypt report: a JSON summary document (for --json) and a few human lines.
 * Secret-free: URIs are the redacted display forms, keys are described by kind and key ID only.
 */
import { humanBytes } from '../report/render';
import type { TranscodeResult } from './transcode';

const VERB = { decrypt: 'decrypted', encrypt: 'encrypted', reencrypt: 're-encrypted' } as const;

export function transcodeJson(r: TranscodeResult): Record<string, unknown> {
  return {
    status: 'ok',
    operation: `backup ${r.mode}`,
    source: r.source,
    destination: r.destination,
    keyScheme: { source: r.sourceScheme, target: r.targetScheme },
    objects: r.objects,
    bytes: r.bytes,
    backups: r.backups,
    latest: r.latest,
    resumed: r.resumed,
    warnings: r.warnings,
    durationMs: r.durationMs,
  };
}

export function transcodeText(r: TranscodeResult): string {
  const layers = r.backups.reduce((n, b) => n + b.layers.length, 0);
  const lines = [
    `${VERB[r.mode]} ${r.backups.length} full backup${r.backups.length === 1 ? '' : 's'} (${layers} layer${layers === 1 ? '' : 's'}: ${r.backups
      .map((b) => '/' + (b.dir || '.'))
      .join(', ')})`,
    `  from ${r.source}`,
    `  to   ${r.destination}`,
    `  key:     ${r.sourceScheme} -> ${r.targetScheme}`,
    `  objects: ${r.objects.written} written${r.objects.skipped ? `, ${r.objects.skipped} kept from the interrupted run` : ''}, ${r.objects.checksums} -CHECKSUM recomputed${
      r.objects.dropped ? `, ${r.objects.dropped} ENCRYPTION-INFO dropped` : ''
    }`,
    `  bytes:   ${humanBytes(r.bytes.read)} read, ${humanBytes(r.bytes.written)} written`,
    `  LATEST:  ${r.latest.length ? r.latest.join(', ') : 'none copied'}`,
  ];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}
