/**
 * Object checks on worker threads. Authenticating chunks and walking tables is CPU work that runs on
 * the thread that calls it; with a pool of workers, each with its own store client, a verify of a large
 * collection uses every core instead of one. The main thread only plans, collects results and shows
 * progress. Results and errors cross the thread boundary as plain data; a worker's CliError comes back
 * as the same class with the same exit code.
 */
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CliError, IntegrityError, KeyError, StorageError, UsageError } from '../errors';
import type { ObjectInfo } from '../storage/object-store';
import type { StoreOptions } from '../storage/index';
import type { ObjectCheck } from './object-check';

/** How a worker opens the same store as the main thread. */
export interface WorkerStoreSpec {
  uri: string;
  options: Pick<StoreOptions, 'nodelocalRoot'>;
}

export interface CheckTask {
  object: ObjectInfo;
  path: string;
  key: Buffer | undefined;
  checkSsts: boolean;
}

/** Selected objects must add up to at least this before workers are worth their start-up time. */
export const AUTO_WORKERS_MIN_BYTES = 1024 * 1024 * 1024;
/** Below this many cores the workers compete with the main thread and the store's own I/O. */
export const AUTO_WORKERS_MIN_CORES = 4;

/**
 * --workers auto: one per core, up to 8, on machines with at least 4 cores when there is at least 1 GiB
 * to read; else none (checks run on the main thread). Measured on 2 cores (bench/README.md): +15 % on a
 * local 400 MB verify, -30 % against a local S3 server that shares the cores, so small machines stay
 * single-threaded unless --workers says otherwise.
 */
export function autoWorkers(totalBytes: number, cores = availableParallelism()): number {
  return cores >= AUTO_WORKERS_MIN_CORES && totalBytes >= AUTO_WORKERS_MIN_BYTES ? Math.min(cores, 8) : 0;
}

type Pending = { resolve: (r: ObjectCheck) => void; reject: (e: Error) => void; onBytes?: (n: number) => void };

interface SerializedError {
  name: string;
  message: string;
  exitCode?: number;
  hint?: string;
  reason?: string;
}

export function reviveError(e: SerializedError): Error {
  switch (e.name) {
    case 'StorageError':
      return new StorageError(e.message, e.reason, e.hint);
    case 'KeyError':
    case 'KmsRefusedError':
    case 'CmekRefusedError':
      return new KeyError(e.message, e.hint);
    case 'UsageError':
      return new UsageError(e.message, e.hint);
    case 'IntegrityError':
    case 'ManifestError':
      return new IntegrityError(e.message, e.hint);
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
  }
}

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & { hint?: string; reason?: string; exitCode?: number };
  return {
    name: e instanceof CliError ? (e instanceof StorageError ? 'StorageError' : e instanceof KeyError ? 'KeyError' : e instanceof UsageError ? 'UsageError' : 'IntegrityError') : (err?.name ?? 'Error'),
    message: err?.message ?? String(e),
    exitCode: err?.exitCode,
    hint: err?.hint,
    reason: err?.reason,
  };
}

/** A fixed pool of check workers; tasks go to the least busy one. */
export class CheckPool {
  private readonly workers: { w: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failed: Error | undefined;

  constructor(count: number, spec: WorkerStoreSpec) {
    const file = path.join(__dirname, 'check-worker.js');
    for (let i = 0; i < count; i++) {
      const w = new Worker(file, { workerData: spec });
      const slot = { w, busy: 0 };
      w.on('message', (m: { type: string; id: number; n?: number; result?: ObjectCheck; error?: SerializedError }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.type === 'bytes') {
          p.onBytes?.(m.n ?? 0);
          return;
        }
        this.pending.delete(m.id);
        slot.busy--;
        if (m.type === 'done') p.resolve(m.result as ObjectCheck);
        else p.reject(reviveError(m.error as SerializedError));
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a check worker stopped (exit code ${code})`));
      });
      this.workers.push(slot);
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  run(t: CheckTask, onBytes?: (n: number) => void): Promise<ObjectCheck> {
    if (this.failed) return Promise.reject(this.failed);
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise<ObjectCheck>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onBytes });
      slot.w.postMessage({ type: 'task', id, task: { ...t, key: t.key ? new Uint8Array(t.key) : undefined } });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}
