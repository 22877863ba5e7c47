/**
 * The in-progress marker. A command that writes a backup (decrypt, encrypt, reencrypt) writes this
 * object first and deletes it last, after every manifest and LATEST pointer: a destination that still
 * has it is incomplete, and verify / inspect say so instead of taking it for a good backup.
 */
import type { ObjectStore } from '../storage/object-store';

export const INCOMPLETE_MARKER = 'CRDB-CMEK-INCOMPLETE';

export interface IncompleteMarker {
  operation: string;
  started: string;
  /** Redacted source URI. */
  source: string;
  tool: string;
}

export async function writeIncompleteMarker(store: ObjectStore, m: IncompleteMarker): Promise<void> {
  await store.write(INCOMPLETE_MARKER, Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
}

export async function clearIncompleteMarker(store: ObjectStore): Promise<void> {
  await store.delete(INCOMPLETE_MARKER);
}

/** A description of the interrupted operation when the marker is present, else undefined. */
export async function readIncompleteMarker(store: ObjectStore): Promise<string | undefined> {
  const info = await store.stat(INCOMPLETE_MARKER);
  if (!info) return undefined;
  let what = 'a crdb-cmek write';
  try {
    const m = JSON.parse((await store.read(INCOMPLETE_MARKER)).toString('utf8')) as Partial<IncompleteMarker>;
    if (m.operation) what = `crdb-cmek ${m.operation} (started ${m.started ?? 'at an unknown time'})`;
  } catch {
    /* an unreadable marker still marks the destination incomplete */
  }
  return `${what} did not finish: this destination is incomplete and must not be restored; rerun it with --resume, or delete the destination`;
}
