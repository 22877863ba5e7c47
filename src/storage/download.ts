/**
 * A plain download of every object under a prefix, discarding the bytes: the baseline that bench
 * compares `backup verify` against (issue 4: verify-vs-download ratio). Streams each object through
 * the store's read path (retries included) with bounded parallelism; nothing is kept in memory.
 *
 *   const stats = await downloadPrefix(await openStore(uri), '', { concurrency: 8 });
 *   // { objects, bytes, ms }
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from './object-store';

export interface DownloadStats {
  objects: number;
  bytes: number;
  ms: number;
}

export async function downloadPrefix(store: ObjectStore, prefix = '', opts: { concurrency?: number } = {}): Promise<DownloadStats> {
  const t0 = performance.now();
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const src = await store.createReadStream(key);
      await pipeline(
        src,
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            cb();
          },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return { objects: keys.length, bytes, ms: performance.now() - t0 };
}
