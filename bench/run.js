#!/usr/bin/env node
/**
 * crdb-cmek benchmark runner: named cases, each run in its own child process so that its peak RSS
 * (process.resourceUsage().maxRSS) is its own.
 *
 *   npm run bench                         # 1 GiB, every default case
 *   npm run bench -- --size 64MiB --json  # one JSON document on stdout
 *   npm run bench -- --case decrypt --case openssl
 *
 * Throughput is reported two ways: by wall clock, and by CPU time (user + system of the process).
 * `openssl speed` reports CPU time of its single thread by default, so the ratio to openssl is taken on
 * the CPU-time figure (single-core equivalent, robust on a busy machine); the wall-clock ratio is shown too.
 *
 * Cases register themselves in CASES below; issue 4 adds the S3 verify-vs-download ratio the same way.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');

const DIST = path.resolve(__dirname, '..', 'dist');
const MiB = 1 << 20;

function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(String(s).trim());
  if (!m) throw new Error(`bad size: ${s} (e.g. 64MiB, 1GiB, 1048576)`);
  const n = Number(m[1]);
  const unit = (m[2] || 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? MiB : unit.startsWith('g') ? 1024 * MiB : 1;
  return Math.round(n * mult);
}

function fmtBytes(n) {
  return n >= 1024 * MiB ? `${(n / 1024 / MiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`;
}

/** Measures fn: wall seconds, CPU seconds (this process, all threads), throughput over `bytes`. */
async function measure(bytes, fn) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const extra = (await fn()) || {};
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(cpu0);
  const cpu = (cu.user + cu.system) / 1e6;
  return {
    bytes,
    wallSeconds: +wall.toFixed(3),
    cpuSeconds: +cpu.toFixed(3),
    mbPerSecWall: +(bytes / 1e6 / wall).toFixed(1),
    mbPerSecCpu: +(bytes / 1e6 / cpu).toFixed(1),
    ...extra,
  };
}

/** A generated plaintext stream of `size` bytes, in 1 MiB pieces (one random block, reused). */
function generated(size) {
  const block = crypto.randomBytes(MiB);
  let left = size;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

function counter() {
  const w = new Writable({
    highWaterMark: 4 * MiB,
    write(chunk, _enc, cb) {
      w.bytes += chunk.length;
      cb();
    },
    writev(chunks, cb) {
      for (const c of chunks) w.bytes += c.chunk.length;
      cb();
    },
  });
  w.bytes = 0;
  return w;
}

const KEY = Buffer.alloc(32, 7); // benchmark only

/** Named cases. `run(ctx)` returns a result object; it runs inside a child process. */
const CASES = {
  encrypt: {
    summary: 'EncryptStream: generated plaintext -> version-2 ciphertext (discarded)',
    async run(ctx) {
      const { EncryptStream } = require(path.join(DIST, 'format', 'chunked.js'));
      return measure(ctx.size, async () => {
        const sink = counter();
        await pipeline(generated(ctx.size), new EncryptStream(KEY), sink);
        return { outputBytes: sink.bytes };
      });
    },
  },
  decrypt: {
    summary: 'DecryptStream: in-memory ciphertext (1 MiB pieces, 64 MiB objects) -> authenticated plaintext (discarded); no I/O, like openssl speed',
    async run(ctx) {
      const { DecryptStream, EncryptStream } = require(path.join(DIST, 'format', 'chunked.js'));
      // Untimed setup: one 64 MiB encrypted object held in memory (the same for every --size, so peak RSS
      // compares across sizes). The timed run decrypts it as many times as --size needs, each time as a new
      // object through a fresh DecryptStream, the way verify reads a backup of many objects.
      const { ciphertextSize } = require(path.join(DIST, 'format', 'chunked.js'));
      const objectSize = Math.min(ctx.size, 64 * MiB);
      const ciphertext = Buffer.allocUnsafe(ciphertextSize(objectSize));
      let filled = 0;
      await pipeline(generated(objectSize), new EncryptStream(KEY), new Writable({
        write(chunk, _enc, cb) {
          filled += chunk.copy(ciphertext, filled);
          cb();
        },
      }));
      if (filled !== ciphertext.length) throw new Error(`setup wrote ${filled} of ${ciphertext.length} ciphertext bytes`);
      const slices = [];
      for (let i = 0; i < ciphertext.length; i += MiB) slices.push(ciphertext.subarray(i, i + MiB));
      return measure(ctx.size, async () => {
        let done = 0;
        while (done < ctx.size) {
          const sink = counter();
          await pipeline(Readable.from(slices), new DecryptStream(KEY), sink);
          if (sink.bytes !== objectSize) throw new Error(`decrypt gave ${sink.bytes} bytes, expected ${objectSize}`);
          done += objectSize;
        }
        return { objectBytes: objectSize };
      });
    },
  },
  'decrypt-file': {
    summary: 'DecryptStream end to end: ciphertext file (1 MiB reads, page cache) -> authenticated plaintext (discarded)',
    async run(ctx) {
      const { DecryptStream, EncryptStream } = require(path.join(DIST, 'format', 'chunked.js'));
      // Untimed setup: the ciphertext of a generated stream, on disk (it is read back from the page cache).
      await pipeline(generated(ctx.size), new EncryptStream(KEY), fs.createWriteStream(ctx.cipherFile));
      return measure(ctx.size, async () => {
        const sink = counter();
        await pipeline(fs.createReadStream(ctx.cipherFile, { highWaterMark: MiB }), new DecryptStream(KEY), sink);
        if (sink.bytes !== ctx.size) throw new Error(`decrypt gave ${sink.bytes} bytes, expected ${ctx.size}`);
        fs.rmSync(ctx.cipherFile, { force: true });
        return {};
      });
    },
  },
  openssl: {
    summary: 'openssl speed -evp aes-256-gcm -bytes 65536 -seconds 3 (single core, CPU time)',
    async run(ctx) {
      const args = ['speed', '-evp', 'aes-256-gcm', '-bytes', '65536', '-seconds', String(ctx.opensslSeconds)];
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      if (r.error || r.status !== 0) {
        return { skipped: `openssl unavailable: ${r.error ? r.error.message : (r.stderr || '').trim()}` };
      }
      const version = (spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout || '').trim();
      // "AES-256-GCM    5546101.03k"  (1000s of bytes per second)
      const line = r.stdout.split('\n').find((l) => /^aes-256-gcm\s/i.test(l.trim()));
      const m = line && /([\d.]+)k\s*$/.exec(line.trim());
      if (!m) return { skipped: `could not parse openssl output: ${r.stdout.trim().slice(-200)}` };
      const mbPerSec = +(Number(m[1]) / 1000).toFixed(1);
      return { command: `openssl ${args.join(' ')}`, version, mbPerSecCpu: mbPerSec, mbPerSecWall: mbPerSec };
    },
  },
  's3-verify': {
    summary: 'backup verify from an S3 server (s3rver, own process) vs a plain download of the same objects: ratio',
    async run(ctx) {
      // Issue 4: how much slower than just fetching the bytes is verifying them? Untimed setup: s3rver in a
      // child process and an encrypted collection (ctx.s3Objects data SSTs, ctx.s3Size bytes in all) written
      // into it by another child process (bench/s3-fixture.js), so this process's peak RSS is verify's own.
      // Timed, in this order, each over the same objects with the same concurrency: download, verify
      // (chunk authentication only, --skip-sst-check), verify (full: also every SST block), download again.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
      const fixture = require(path.join(__dirname, 's3-fixture.js'));
      const s3 = await fixture.startS3rver();
      try {
        const uri = s3.uriFor('bench/collection');
        const gen = spawnSync(process.execPath, [path.join(__dirname, 's3-fixture.js'), 'generate', uri, String(ctx.s3Size), String(ctx.s3Objects)], {
          encoding: 'utf8',
          env: process.env,
        });
        if (gen.status !== 0) throw new Error(`generating the S3 collection failed: ${gen.stderr}`);
        const made = JSON.parse(gen.stdout);
        const { openStore, downloadPrefix } = require(path.join(DIST, 'storage', 'index.js'));
        const { discoverCollection } = require(path.join(DIST, 'backup', 'layout.js'));
        const { verify } = require(path.join(DIST, 'engines', 'verify.js'));
        const { Keyring } = require(path.join(DIST, 'engines', 'keyring.js'));
        const { DEFAULT_CONCURRENCY } = require(path.join(DIST, 'engines', 'pool.js'));
        const concurrency = DEFAULT_CONCURRENCY;
        const store = await openStore(uri);
        const bytes = made.storedDataBytes;
        const download = async () => {
          const r = await downloadPrefix(store, '', { concurrency });
          if (r.bytes < bytes) throw new Error(`download got ${r.bytes} bytes, the data objects alone hold ${bytes}`);
          return { objects: r.objects, bytesDownloaded: r.bytes };
        };
        const workers = os.availableParallelism();
        const runVerify = (checkSsts, nWorkers = 0) => async () => {
          const collection = await discoverCollection(store, {});
          const r = await verify({
            store,
            collection,
            keyring: new Keyring({ passphrase: fixture.PASSPHRASE }),
            concurrency,
            checkSsts,
            workers: nWorkers,
            workerStore: { uri, options: {} },
          });
          if (r.status !== 'ok') throw new Error(`verify: ${r.status} ${JSON.stringify(r.problems.slice(0, 3))}`);
          return { objectsChecked: r.summary.objectsChecked, sstsChecked: r.summary.sstsChecked };
        };
        const download1 = await measure(bytes, download);
        const verifyAuth = await measure(bytes, runVerify(false));
        const verifyFull = await measure(bytes, runVerify(true));
        const verifyWorkers = await measure(bytes, runVerify(true, workers));
        const download2 = await measure(bytes, download);
        await store.close?.();
        const dl = download1.wallSeconds <= download2.wallSeconds ? download1 : download2;
        return {
          ...verifyFull,
          s3Bytes: bytes,
          dataObjects: made.dataObjects,
          concurrency,
          download: [download1, download2],
          verifyAuthOnly: verifyAuth,
          verify: verifyFull,
          workers,
          verifyWorkers,
          ratioVerifyWorkersToDownload: +(verifyWorkers.wallSeconds / dl.wallSeconds).toFixed(2),
          // Time ratios against the faster download: 1.0 would mean verifying costs no more than fetching.
          ratioVerifyToDownload: +(verifyFull.wallSeconds / dl.wallSeconds).toFixed(2),
          ratioVerifyAuthOnlyToDownload: +(verifyAuth.wallSeconds / dl.wallSeconds).toFixed(2),
        };
      } finally {
        await s3.stop();
      }
    },
  },
};

const DEFAULT_CASES = ['encrypt', 'decrypt', 'decrypt-file', 'openssl', 's3-verify'];

function parseArgs(argv) {
  const o = { size: 1024 * MiB, json: false, cases: [], opensslSeconds: 3, child: undefined, cipherFile: undefined, keep: false, s3Size: 256 * MiB, s3Objects: 8 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--size') o.size = parseSize(val());
    else if (a.startsWith('--size=')) o.size = parseSize(a.slice(7));
    else if (a === '--json') o.json = true;
    else if (a === '--case') o.cases.push(val());
    else if (a === '--openssl-seconds') o.opensslSeconds = Number(val());
    else if (a === '--child') o.child = val();
    else if (a === '--cipher-file') o.cipherFile = val();
    else if (a === '--s3-size') o.s3Size = parseSize(val());
    else if (a === '--s3-objects') o.s3Objects = Math.max(1, Number(val()));
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function runChild(name, opts) {
  return new Promise((resolve, reject) => {
    const args = [__filename, '--child', name, '--size', String(opts.size), '--cipher-file', opts.cipherFile,
      '--openssl-seconds', String(opts.opensslSeconds), '--s3-size', String(opts.s3Size), '--s3-objects', String(opts.s3Objects)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`case ${name} failed (exit ${code})`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(new Error(`case ${name}: bad output ${out.slice(0, 200)}`));
      }
    });
  });
}

async function childMain(opts) {
  const c = CASES[opts.child];
  if (!c) throw new Error(`unknown case ${opts.child}`);
  const result = await c.run(opts);
  result.peakRssMiB = +(process.resourceUsage().maxRSS / 1024).toFixed(1);
  process.stdout.write(JSON.stringify(result));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.child) return childMain(opts);
  if (opts.help) {
    process.stdout.write(`usage: npm run bench -- [--size 1GiB] [--case NAME ...] [--json] [--openssl-seconds 3] [--s3-size 256MiB] [--s3-objects 8]\ncases:\n`);
    for (const [n, c] of Object.entries(CASES)) process.stdout.write(`  ${n.padEnd(12)} ${c.summary}\n`);
    return;
  }
  let names = opts.cases.length ? opts.cases : DEFAULT_CASES;
  for (const n of names) if (!CASES[n]) throw new Error(`unknown case ${n} (known: ${Object.keys(CASES).join(', ')})`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crdb-cmek-bench-'));
  opts.cipherFile = path.join(tmp, 'cipher.bin');
  const results = {};
  try {
    for (const n of names) {
      if (!opts.json) process.stderr.write(`running ${n} (${fmtBytes(n === 's3-verify' ? opts.s3Size : opts.size)})...\n`);
      results[n] = await runChild(n, opts);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const ossl = results.openssl && !results.openssl.skipped ? results.openssl.mbPerSecCpu : undefined;
  const ratios = {};
  for (const n of ['encrypt', 'decrypt', 'decrypt-file']) {
    if (results[n] && ossl) {
      ratios[n] = { cpu: +(results[n].mbPerSecCpu / ossl).toFixed(3), wall: +(results[n].mbPerSecWall / ossl).toFixed(3) };
    }
  }
  const doc = {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0] ? os.cpus()[0].model : undefined,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    sizeBytes: opts.size,
    cases: results,
    ratioToOpenssl: ratios,
  };
  const s3v = results['s3-verify'] && !results['s3-verify'].skipped ? results['s3-verify'] : undefined;
  if (s3v) doc.s3VerifyVsDownload = { verify: s3v.ratioVerifyToDownload, verifyAuthOnly: s3v.ratioVerifyAuthOnlyToDownload, bytes: s3v.s3Bytes };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const lines = [];
  lines.push(`crdb-cmek bench: ${fmtBytes(opts.size)}, node ${process.version}, ${doc.cpus} CPUs (${doc.cpuModel}), load ${doc.loadAverage.join(' ')}`);
  lines.push('');
  lines.push(`${'case'.padEnd(12)} ${'MB/s wall'.padStart(10)} ${'MB/s CPU'.padStart(10)} ${'x openssl'.padStart(16)} ${'peak RSS'.padStart(10)}`);
  for (const [n, r] of Object.entries(results)) {
    if (r.skipped) {
      lines.push(`${n.padEnd(12)} skipped: ${r.skipped}`);
      continue;
    }
    const ratio = ratios[n] ? `${ratios[n].cpu.toFixed(2)} (wall ${ratios[n].wall.toFixed(2)})` : n === 'openssl' ? '1.00' : '-';
    const rss = r.peakRssMiB !== undefined && n !== 'openssl' ? `${r.peakRssMiB} MiB` : '-';
    lines.push(`${n.padEnd(12)} ${String(r.mbPerSecWall).padStart(10)} ${String(r.mbPerSecCpu).padStart(10)} ${ratio.padStart(16)} ${rss.padStart(10)}`);
  }
  if (s3v) {
    const dl = s3v.download.reduce((a, b) => (a.wallSeconds <= b.wallSeconds ? a : b));
    lines.push('');
    lines.push(`s3-verify: ${fmtBytes(s3v.s3Bytes)} in ${s3v.dataObjects} data objects on s3rver, concurrency ${s3v.concurrency} (MB/s wall | CPU of this process)`);
    lines.push(`  download                 ${String(dl.mbPerSecWall).padStart(8)} | ${String(dl.mbPerSecCpu).padStart(8)}   (${s3v.download.map((d) => `${d.wallSeconds} s`).join(', ')})`);
    lines.push(`  verify, chunks only      ${String(s3v.verifyAuthOnly.mbPerSecWall).padStart(8)} | ${String(s3v.verifyAuthOnly.mbPerSecCpu).padStart(8)}   (${s3v.verifyAuthOnly.wallSeconds} s)`);
    lines.push(`  verify, full             ${String(s3v.verify.mbPerSecWall).padStart(8)} | ${String(s3v.verify.mbPerSecCpu).padStart(8)}   (${s3v.verify.wallSeconds} s)`);
    lines.push(`  verify, full, ${s3v.workers} workers  ${String(s3v.verifyWorkers.mbPerSecWall).padStart(8)} | ${String(s3v.verifyWorkers.mbPerSecCpu).padStart(8)}   (${s3v.verifyWorkers.wallSeconds} s; CPU of the main thread only)`);
    lines.push(`  ratio verify/download (time): ${s3v.ratioVerifyToDownload.toFixed(2)} full, ${s3v.ratioVerifyWorkersToDownload.toFixed(2)} full with ${s3v.workers} workers, ${s3v.ratioVerifyAuthOnlyToDownload.toFixed(2)} chunks only`);
  }
  lines.push('');
  lines.push('MB/s = 10^6 plaintext bytes per second. "x openssl" compares CPU-time throughput (openssl speed measures');
  lines.push('the CPU time of one thread); the wall-clock ratio is in brackets. Peak RSS is per case (own process).');
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
