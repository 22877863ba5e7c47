/**
 * The audit's evidence report: for people (stdout), --json, and --report FILE (.json / .md / .xml).
 * Holds the time, the tool version, the redacted target, key IDs (never a key), counts, every finding,
 * and the SHA-256 of every object examined.
 */
import type { AuditResult } from '../engines/audit';
import { humanBytes, mdEscape, problemLines, problemsJUnit, problemsMarkdown, type Rendered } from './render';

export interface AuditReportContext {
  /** Redacted collection URI. */
  target: string;
  tool: string;
}

export class AuditReport implements Rendered {
  constructor(
    private readonly r: AuditResult,
    private readonly ctx: AuditReportContext,
  ) {}

  verdict(): string {
    const r = this.r;
    if (r.status === 'key-error') return `KEY ERROR: ${r.keyError}`;
    if (r.status === 'failed') return `FAILED: ${r.counts.errors} finding(s)`;
    return r.mode === 'revocation-drill'
      ? `PASSED: the CMEK refuses (${r.revocation?.reason ?? 'refused'}) and no object opens without it`
      : 'PASSED: every must-be-ciphertext object is ciphertext, no cleartext object holds a secret, nothing opens without the key';
  }

  private keyLines(): string[] {
    const k = this.r.keys;
    const out: string[] = [];
    if (k.cmek) out.push(`CMEK ${k.cmek.provider} key ${k.cmek.keyId}: ${k.cmek.state}${k.cmek.reason ? ` (${k.cmek.reason})` : ''}`);
    for (const x of k.kms) out.push(`KMS ${x.provider} key ${x.keyId} (map key SHA-256 ${x.mapKey})`);
    if (k.passphrase) out.push('a passphrase was given (not recorded)');
    for (const s of k.storeKeys) out.push(`store key ${s.storeKeyId} (AES-${s.bits}) in ${s.object}, wrapped by ${s.wrappedBy}`);
    for (const d of k.dataKeys) out.push(`data key of ${d.backup || '.'}: fingerprint ${d.fingerprint}, via ${d.via}`);
    for (const e of k.encryptionInfo) {
      out.push(
        `${e.file}: ${e.salt ? 'passphrase salt; ' : ''}${e.entries.length} entr${e.entries.length === 1 ? 'y' : 'ies'}${e.entries.length ? ': ' : ''}${e.entries
          .map((x) => `${x.mapKey.slice(0, 16)}… (${x.kind}${x.id ? `: ${x.id}` : ''})`)
          .join(', ')}`,
      );
    }
    return out;
  }

  display(): string {
    const r = this.r;
    const c = r.counts;
    const lines = [
      `${r.mode === 'revocation-drill' ? 'Revocation drill' : 'Audit'} of ${this.ctx.target} (${r.finishedAt}, ${this.ctx.tool})`,
      `  ${c.objects} object(s), ${humanBytes(c.bytes)}: ${c.ciphertext} must be ciphertext, ${c.cleartext} cleartext by design; ${c.backups} full backup(s)`,
      `  without the key: ${c.triedWithoutKey} object(s) tried, ${c.openedWithoutKey} opened`,
    ];
    if (c.triedWithKey) lines.push(`  with the key: ${c.openedWithKey} of ${c.triedWithKey} object(s) opened`);
    lines.push('Keys:', ...this.keyLines().map((l) => `  ${l}`));
    for (const n of r.notes) lines.push(`  note: ${n}`);
    if (r.problems.length) lines.push('Findings:', ...problemLines(r.problems));
    lines.push(this.verdict());
    return lines.join('\n');
  }

  getJson(): unknown {
    const r = this.r;
    return {
      status: r.status,
      ...(r.keyError ? { error: r.keyError } : {}),
      mode: r.mode,
      target: this.ctx.target,
      tool: this.ctx.tool,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      coverage: r.coverage,
      problems: r.problems,
      notes: r.notes,
      summary: r.counts,
      keys: r.keys,
      ...(r.revocation ? { revocation: r.revocation } : {}),
      objects: r.objects,
    };
  }

  markdown(): string {
    const r = this.r;
    const c = r.counts;
    return [
      `# crdb-cmek ${r.mode === 'revocation-drill' ? 'revocation drill' : 'audit'}: ${r.status}`,
      '',
      `- target: \`${this.ctx.target}\``,
      `- tool: ${this.ctx.tool}`,
      `- started: ${r.startedAt}; finished: ${r.finishedAt}`,
      `- verdict: ${mdEscape(this.verdict())}`,
      `- coverage: ${r.coverage}`,
      `- objects: ${c.objects} (${humanBytes(c.bytes)}); must be ciphertext ${c.ciphertext}; cleartext by design ${c.cleartext}`,
      `- without the key: ${c.triedWithoutKey} tried, ${c.openedWithoutKey} opened; with the key: ${c.openedWithKey} of ${c.triedWithKey} opened`,
      '',
      '## Keys',
      '',
      ...this.keyLines().map((l) => `- ${mdEscape(l)}`),
      ...(r.notes.length ? ['', '## Notes', '', ...r.notes.map((n) => `- ${mdEscape(n)}`)] : []),
      '',
      '## Findings',
      '',
      problemsMarkdown(r.problems),
      '## Objects examined',
      '',
      '| path | bytes | class | SHA-256 |',
      '|---|---|---|---|',
      ...r.objects.map((o) => `| \`${mdEscape(o.path)}\` | ${o.size} | ${o.class} | \`${o.sha256}\` |`),
      '',
    ].join('\n');
  }

  junit(): string {
    return problemsJUnit(
      'backup audit',
      this.r.problems,
      this.r.objects.map((o) => o.path),
      Date.parse(this.r.finishedAt) - Date.parse(this.r.startedAt),
      [{ name: 'verdict', failure: this.r.status === 'ok' ? undefined : this.verdict() }],
    );
  }
}
