// Starts s3rver (an S3-protocol server from npm) in a child process on 127.0.0.1 and a random port, with
// a fresh directory. Plain JavaScript so that both the jest helper (test/helpers/s3rver.ts) and the
// benchmark (bench/s3-fixture.js) use the same launcher.
//
// The child runs with --openssl-legacy-provider: s3rver makes its listing continuation tokens with DES,
// which Node 20's OpenSSL 3 refuses otherwise (any truncated listing would answer HTTP 500).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CHILD = `
const S3rver = require(process.argv[1]);
const [dir, buckets] = [process.argv[2], JSON.parse(process.argv[3])];
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir,
  configureBuckets: buckets.map((name) => ({ name })) });
server.run().then((addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
  (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
`;

/**
 * Spawns s3rver with `buckets` created; resolves once it listens.
 * Returns { child, port, endpoint, directory, stop() }: stop() ends the child (stdin closed, SIGKILL after
 * 5 s) and removes the directory.
 */
async function spawnS3rver({ buckets, prefix = 'crdb-cmek-s3rver-', tmpdir = os.tmpdir() }) {
  const directory = fs.mkdtempSync(path.join(tmpdir, prefix));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, require.resolve('s3rver'), directory, JSON.stringify(buckets)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c.toString()));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const onData = (c) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout.off('data', onData);
        resolve(JSON.parse(out.slice(0, nl)).port);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${stderr}`)));
    setTimeout(() => reject(new Error(`s3rver did not start in 20 s: ${stderr}`)), 20000).unref();
  });
  return {
    child,
    port,
    endpoint: `http://127.0.0.1:${port}`,
    directory,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', () => r()));
        child.stdin.end();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

module.exports = { spawnS3rver };
