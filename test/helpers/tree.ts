/** Directory-tree helpers for tests: list, hash and copy the files of a local collection. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Relative ('/'-separated) paths of every file under root, sorted; [] when root does not exist. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(root, '');
  return out.sort();
}

/** SHA-256 (hex) of every file under root whose relative path passes the filter, in path order. */
export function hashTree(root: string, filter: (key: string) => boolean = () => true): Map<string, string> {
  return new Map(
    listFiles(root)
      .filter(filter)
      .map((f) => [f, crypto.createHash('sha256').update(fs.readFileSync(path.join(root, f))).digest('hex')]),
  );
}

/** Copies every file (e.g. from the read-only ../shared/testdata) into a writable tree. */
export function copyTree(from: string, to: string): void {
  for (const f of listFiles(from)) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(path.join(from, f), path.join(to, f));
    fs.chmodSync(path.join(to, f), 0o644);
  }
}
