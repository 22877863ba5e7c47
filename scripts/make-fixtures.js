#!/usr/bin/env node
// Regenerates fixtures/collection: a small passphrase-encrypted sample collection written by this
// project's own code (src/sample/sample-collection.ts, built to dist/). Deterministic: same bytes each run.
const fs = require('node:fs');
const path = require('node:path');
const { LocalStore } = require('../dist/storage/local');
const { writeSampleCollection } = require('../dist/sample/sample-collection');

async function main() {
  const root = path.resolve(__dirname, '..', 'fixtures');
  const dir = path.join(root, 'collection');
  const passphrase = fs.readFileSync(path.join(root, 'passphrase.txt'), 'utf8').replace(/\r?\n$/, '');
  fs.rmSync(dir, { recursive: true, force: true });
  const out = await writeSampleCollection(new LocalStore(dir), { passphrase });
  process.stdout.write(`wrote ${out.objects.length} objects to ${path.relative(process.cwd(), dir)}\n`);
}

main().catch((e) => {
  process.stderr.write(`make-fixtures: ${e.message}\n`);
  process.exit(1);
});
