/**
 * Shared report rendering: problems as a human table, Markdown, JUnit XML; and writing a report file
 * whose format follows its extension (.json, .md, .xml). Reports hold only redacted URIs.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors';
import type { Problem } from '../engines/problems';

export interface Rendered {
  /** For people (stdout). */
  display(): string;
  /** The --json document. */
  getJson(): unknown;
  markdown(): string;
  junit(): string;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function problemLines(problems: Problem[]): string[] {
  return problems.map((p) => `  ${p.severity === 'error' ? 'ERROR  ' : 'WARNING'} ${p.kind.padEnd(22)} ${p.path}\n          ${p.detail}`);
}

export function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function problemsMarkdown(problems: Problem[]): string {
  if (problems.length === 0) return '_No problems._\n';
  const rows = problems.map((p) => `| ${p.severity} | \`${p.kind}\` | \`${mdEscape(p.path)}\` | ${mdEscape(p.detail)} |`);
  return ['| severity | kind | path | detail |', '|---|---|---|---|', ...rows, ''].join('\n');
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/**
 * JUnit: one test case per checked path; an error-severity problem is a failure, a warning is
 * reported as system-out. `extraCases` lets a report add named passes (e.g. audit checks).
 */
export function problemsJUnit(
  suite: string,
  problems: Problem[],
  checkedPaths: string[],
  durationMs: number,
  extraCases: { name: string; failure?: string }[] = [],
): string {
  const byPath = new Map<string, Problem[]>();
  for (const p of problems) byPath.set(p.path, [...(byPath.get(p.path) ?? []), p]);
  const names = [...new Set([...checkedPaths, ...byPath.keys()])].sort();
  const cases: string[] = [];
  let failures = 0;
  for (const name of names) {
    const ps = byPath.get(name) ?? [];
    const errs = ps.filter((p) => p.severity === 'error');
    const warns = ps.filter((p) => p.severity === 'warning');
    let body = '';
    if (errs.length) {
      failures++;
      body += `<failure type="${xmlEscape(errs[0].kind)}" message="${xmlEscape(errs.map((e) => e.kind).join(', '))}">${xmlEscape(errs.map((e) => e.detail).join('\n'))}</failure>`;
    }
    if (warns.length) body += `<system-out>${xmlEscape(warns.map((w) => `${w.kind}: ${w.detail}`).join('\n'))}</system-out>`;
    cases.push(`    <testcase classname="${xmlEscape(suite)}" name="${xmlEscape(name)}">${body}</testcase>`);
  }
  for (const c of extraCases) {
    if (c.failure) failures++;
    cases.push(
      `    <testcase classname="${xmlEscape(suite)}" name="${xmlEscape(c.name)}">${c.failure ? `<failure message="${xmlEscape(c.failure)}"/>` : ''}</testcase>`,
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="crdb-cmek" tests="${cases.length}" failures="${failures}" time="${(durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${cases.length}" failures="${failures}" time="${(durationMs / 1000).toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Writes a report file; its extension picks the format. Written to a temporary name, then renamed. */
export async function writeReport(file: string, r: Rendered): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  let text: string;
  if (ext === '.json') text = `${JSON.stringify(r.getJson(), null, 2)}\n`;
  else if (ext === '.md' || ext === '.markdown') text = r.markdown();
  else if (ext === '.xml') text = r.junit();
  else throw new UsageError(`--report ${file}: the extension must be .json, .md or .xml (JUnit)`);
  const tmp = `${file}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, text);
  await fsp.rename(tmp, file);
}

/** Checks a --report path before any work starts, so a typo does not cost a whole run. */
export function checkReportPath(file: string | undefined): void {
  if (!file) return;
  const ext = path.extname(file).toLowerCase();
  if (!['.json', '.md', '.markdown', '.xml'].includes(ext)) {
    throw new UsageError(`--report ${file}: the extension must be .json, .md or .xml (JUnit)`);
  }
}
