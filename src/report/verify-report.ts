/** Renders a verify result for people, for --json, and as Markdown / JUnit report files. */
import type { VerifyResult } from '../engines/verify';
import { humanBytes, problemLines, problemsJUnit, problemsMarkdown, type Rendered } from './render';

export interface VerifyReportContext {
  /** Redacted collection URI. */
  target: string;
  tool: string;
}

export class VerifyReport implements Rendered {
  constructor(
    private readonly r: VerifyResult,
    private readonly ctx: VerifyReportContext,
  ) {}

  private verdict(): string {
    switch (this.r.status) {
      case 'ok':
        return 'OK: every object checked authenticates and every table is intact';
      case 'key-error':
        return `KEY ERROR: ${this.r.keyError}`;
      default:
        return `FAILED: ${this.r.summary.errors} error(s), ${this.r.summary.warnings} warning(s)`;
    }
  }

  display(): string {
    const s = this.r.summary;
    const lines = [`Verified ${this.ctx.target}`];
    for (const b of this.r.backups) {
      lines.push(`  backup ${b.dir || '.'}: ${b.layers.length} layer(s), ${b.objects} object(s), ${humanBytes(b.bytes)}, key via ${b.keyVia}`);
    }
    lines.push(
      `  ${s.objectsChecked} object(s) checked (${humanBytes(s.bytesChecked)}), ${s.manifestsChecked} manifest(s), ${s.sstsChecked} SST(s), ${s.cleartextObjects} cleartext-by-design object(s)`,
    );
    if (s.coverage !== 'full') lines.push(`  spot check: ${s.coverage}; ${s.objectsSkipped} SST(s) not read this time`);
    for (const p of this.r.partial) lines.push(`  partly verified: ${p.path} (${p.reason})`);
    if (this.r.problems.length) lines.push('Problems:', ...problemLines(this.r.problems));
    lines.push(this.verdict());
    return lines.join('\n');
  }

  getJson(): unknown {
    return {
      status: this.r.status,
      ...(this.r.keyError ? { error: this.r.keyError } : {}),
      target: this.ctx.target,
      problems: this.r.problems,
      summary: this.r.summary,
      backups: this.r.backups,
      partiallyVerified: this.r.partial,
      tool: this.ctx.tool,
    };
  }

  markdown(): string {
    const s = this.r.summary;
    return [
      `# crdb-cmek verify: ${this.r.status}`,
      '',
      `- target: \`${this.ctx.target}\``,
      `- tool: ${this.ctx.tool}`,
      `- verdict: ${this.verdict()}`,
      `- coverage: ${s.coverage}`,
      `- objects checked: ${s.objectsChecked} (${humanBytes(s.bytesChecked)}); manifests ${s.manifestsChecked}; SSTs ${s.sstsChecked} (${s.sstsPartiallyVerified} partly)`,
      '',
      '## Backups',
      '',
      ...this.r.backups.map((b) => `- \`${b.dir || '.'}\`: ${b.layers.length} layer(s), ${b.objects} object(s), key via ${b.keyVia}`),
      '',
      '## Problems',
      '',
      problemsMarkdown(this.r.problems),
    ].join('\n');
  }

  junit(): string {
    const checked = this.r.backups.length ? [] : [];
    return problemsJUnit('backup verify', this.r.problems, checked, this.r.summary.durationMs, [
      { name: 'verdict', failure: this.r.status === 'ok' ? undefined : this.verdict() },
    ]);
  }
}
