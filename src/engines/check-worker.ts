/**
 * The body of a check worker (see check-workers.ts): opens the store once, then runs checkObject for
 * each task it is sent, reporting bytes read in batches and the result or a serialized error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../storage/index';
import type { ObjectStore } from '../storage/object-store';
import { checkObject } from './object-check';
import { serializeError, type CheckTask, type WorkerStoreSpec } from './check-workers';

const spec = workerData as WorkerStoreSpec;
let store: Promise<ObjectStore> | undefined;
const BYTES_BATCH = 4 * 1024 * 1024;

parentPort?.on('message', async (m: { type: string; id: number; task: CheckTask & { key?: Uint8Array } }) => {
  if (m.type !== 'task') return;
  const port = parentPort;
  if (!port) return;
  let unsent = 0;
  try {
    store ??= openStore(spec.uri, spec.options);
    const t = m.task;
    const result = await checkObject({
      store: await store,
      object: t.object,
      path: t.path,
      key: t.key ? Buffer.from(t.key.buffer, t.key.byteOffset, t.key.length) : undefined,
      checkSsts: t.checkSsts,
      onBytes: (n) => {
        unsent += n;
        if (unsent >= BYTES_BATCH) {
          port.postMessage({ type: 'bytes', id: m.id, n: unsent });
          unsent = 0;
        }
      },
    });
    if (unsent) port.postMessage({ type: 'bytes', id: m.id, n: unsent });
    port.postMessage({ type: 'done', id: m.id, result });
  } catch (e) {
    port.postMessage({ type: 'error', id: m.id, error: serializeError(e) });
  }
});
