/** Renders a rewrap result for people and for --json: what was written, what was retired, key IDs. */
import type { RewrapResult } from '../engines/rewrap';

export interface RewrapReportContext {
  /** Redacted collection URI. */
  target: string;
  tool: string;
}

const TITLES: Record<RewrapResult['action'], string> = {
  'add-kms': 'Added native KMS entries',
  'to-cmek': 'Moved the key chain to a new CMEK',
  'new-store-key': 'Rotated the store key',
};

export class RewrapReport {
  constructor(
    private readonly r: RewrapResult,
    private readonly ctx: RewrapReportContext,
  ) {}

  display(): string {
    const r = this.r;
    const lines = [`${TITLES[r.action]} in ${this.ctx.target}`];
    if (r.keys.from) lines.push(`  from: ${r.keys.from.provider} key ${r.keys.from.keyId}`);
    for (const k of r.keys.to) {
      lines.push(`  to:   ${k.provider} key ${k.keyId}${k.mapKey ? ` (ENCRYPTION-INFO map key SHA-256 ${k.mapKey})` : ''}`);
    }
    for (const s of r.keys.storeKeys ?? []) lines.push(`  store key ID: ${s}`);
    lines.push('Written (new objects only; no data object was rewritten):');
    for (const w of r.written) lines.push(`  + ${w}`);
    if (r.retired.length) {
      lines.push('Retired (the old path):');
      for (const d of r.retired) lines.push(`  - ${d}`);
    }
    lines.push('Verified through the new path:');
    for (const b of r.backups) {
      lines.push(`  backup ${b.dir || '.'}: opened via ${b.verifiedVia} (${b.verifiedObjects.length} manifest(s) authenticated)`);
    }
    if (r.action === 'add-kms') lines.push('OK: the existing ENCRYPTION-INFO files are untouched, so every earlier key still opens the data');
    else lines.push(r.retired.length ? 'OK: the old path was removed after the new one was verified' : 'OK: the old path is intact (use --retire-old to remove it)');
    return lines.join('\n');
  }

  getJson(): unknown {
    return {
      status: 'ok',
      target: this.ctx.target,
      tool: this.ctx.tool,
      ...this.r,
    };
  }
}
