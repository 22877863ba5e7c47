/** Renders an inspect result for people and for --json. */
import type { InspectResult } from '../engines/inspect';
import { humanBytes } from './render';

export class InspectReport {
  constructor(
    private readonly r: InspectResult,
    private readonly target: string,
  ) {}

  display(): string {
    const r = this.r;
    const out: string[] = [`Collection ${this.target}${r.mode === 'backup' ? ' (one backup directory)' : ''}`];
    if (r.incomplete) out.push(`  INCOMPLETE: ${r.incomplete}`);
    out.push(`  LATEST: ${r.latest ?? '(none)'}${r.latestSource ? ` (from ${r.latestSource})` : ''}`);
    out.push(`  ${r.backups.length} full backup(s), ${r.totals.objects} object(s), ${humanBytes(r.totals.bytes)}`);
    for (const c of r.chain) {
      out.push(
        c.error
          ? `  CMEK chain ${c.object}: unreadable (${c.error})`
          : `  CMEK chain ${c.object}: store key ${c.storeKeyId?.slice(0, 16)}… (AES-${c.storeKeyBits}) wrapped by ${c.cmekProvider} key ${c.cmekKeyId}, created ${c.created}`,
      );
    }
    for (const b of r.backups) {
      out.push('');
      out.push(`Backup ${b.dir || '.'}${b.latest ? ' (LATEST)' : ''}${b.endTime ? `, ended ${b.endTime}` : ''}`);
      out.push(`  encryption: ${b.scheme}${b.keyVia ? `; opened via ${b.keyVia}` : ''}`);
      for (const e of b.encryption) {
        out.push(`    ${e.file}: ${e.scheme}${e.hasSalt ? ' (passphrase salt)' : ''}`);
        for (const x of e.entries) out.push(`      ${x.kind} entry, key ID SHA-256 ${x.keyIdSha256}`);
      }
      for (const l of b.layers) {
        out.push(
          `  ${l.kind.padEnd(11)} ${l.dir || '.'}: ${l.objects} object(s), ${humanBytes(l.bytes)}, ${l.dataFiles} data file(s), ${l.cleartextObjects} cleartext${l.manifest ? '' : ', NO MANIFEST'}`,
        );
        if (l.facts) {
          const f = l.facts;
          out.push(
            f.error
              ? `              manifest unreadable: ${f.error}`
              : `              manifest: ${f.startTime ?? 'beginning'} .. ${f.endTime ?? '?'}, ${f.spans} span(s), ${f.files} file(s), ${f.rows} row(s), ${humanBytes(f.dataSize)} logical, ${f.descriptors} descriptor(s), cluster ${f.clusterId ?? '?'}, checksum ${f.checksum}`,
          );
        }
      }
    }
    if (r.cleartext.length) {
      out.push('', 'Cleartext by design:');
      for (const c of r.cleartext) out.push(`  ${c.path}`);
    }
    if (r.stray.length) out.push('', 'Objects that belong to no backup:', ...r.stray.map((s) => `  ${s}`));
    if (r.warnings.length) out.push('', 'Notes:', ...r.warnings.map((w) => `  ${w}`));
    return out.join('\n');
  }

  getJson(): unknown {
    return { target: this.target, ...this.r };
  }
}
