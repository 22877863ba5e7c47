/**
 * LATEST pointers of a backup collection (pkg/backup/backupdest, backupbase constants).
 *
 * - 22.1+ writes `metadata/latest/LATEST-<hex>`, never overwriting: `<hex>` is the hex of CockroachDB's
 *   descending string encoding of the Go `time.Time.String()` of the write: marker 0x13, every byte of the
 *   ascending encoding inverted (a 0x00 byte is escaped as 0x00 0xff before inversion), then the inverted
 *   terminator 0x00 0x01 = 0xff 0xfe. Newer times sort first, so a reader takes the first name listed.
 * - Older versions (and HTTP storage) write the single `LATEST` at the collection root.
 * - The content is the full backup's subdirectory, e.g. "/2025/11/20-101500.00".
 */

export const LATEST_FILE_NAME = 'LATEST';
export const LATEST_HISTORY_DIR = 'metadata/latest';

const DESC_MARKER = 0x13;
const ESCAPE = 0x00;
const ESCAPED_00 = 0xff;
const TERM = 0x01;

/** CockroachDB's EncodeStringDescending (pkg/util/encoding) of a string's UTF-8 bytes. */
export function encodeDescendingString(s: string): Buffer {
  const raw = Buffer.from(s, 'utf8');
  const out: number[] = [DESC_MARKER];
  for (const b of raw) {
    if (b === 0x00) out.push(~ESCAPE & 0xff, ~ESCAPED_00 & 0xff);
    else out.push(~b & 0xff);
  }
  out.push(~ESCAPE & 0xff, ~TERM & 0xff);
  return Buffer.from(out);
}

/** Inverse of encodeDescendingString; throws RangeError on malformed input. */
export function decodeDescendingString(buf: Buffer): string {
  if (buf.length < 3 || buf[0] !== DESC_MARKER) throw new RangeError('not a descending string encoding (marker 0x13 expected)');
  const out: number[] = [];
  for (let i = 1; i < buf.length; i++) {
    const b = ~buf[i] & 0xff;
    if (b !== ESCAPE) {
      out.push(b);
      continue;
    }
    const next = i + 1 < buf.length ? ~buf[i + 1] & 0xff : -1;
    if (next === ESCAPED_00) {
      out.push(0);
      i++;
    } else if (next === TERM) {
      if (i + 2 !== buf.length) throw new RangeError('trailing bytes after the descending string terminator');
      return Buffer.from(out).toString('utf8');
    } else {
      throw new RangeError('malformed escape in descending string encoding');
    }
  }
  throw new RangeError('descending string encoding has no terminator');
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/**
 * Go's `time.Time.String()` of a UTC instant: "2006-01-02 15:04:05.999999999 +0000 UTC" (fraction with
 * trailing zeros trimmed, omitted when zero). `nanos` (0..999999) adds sub-millisecond precision.
 */
export function formatGoTime(d: Date, nanos = 0): string {
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const ns = d.getUTCMilliseconds() * 1_000_000 + nanos;
  const frac = ns === 0 ? '' : '.' + String(ns).padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac} +0000 UTC`;
}

const GO_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})(?: [^ ]+)?(?: m=[+-][0-9.]+)?$/;

/** Parses Go's `time.Time.String()` (with or without the monotonic " m=+..." part). */
export function parseGoTime(s: string): Date | undefined {
  const m = GO_TIME_RE.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, sign, oh, om] = m;
  const ms = frac ? Math.floor(Number(frac.padEnd(9, '0')) / 1_000_000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  const offsetMin = (Number(oh) * 60 + Number(om)) * (sign === '-' ? -1 : 1);
  t -= offsetMin * 60_000;
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The file name (no directory) of a timestamped LATEST written at `time`: "LATEST-<hex>". */
export function latestFileNameFor(time: Date = new Date()): string {
  return `${LATEST_FILE_NAME}-${encodeDescendingString(formatGoTime(time)).toString('hex')}`;
}

/** The object key (relative to the collection) of a new timestamped LATEST: "metadata/latest/LATEST-<hex>". */
export function latestObjectName(time: Date = new Date()): string {
  return `${LATEST_HISTORY_DIR}/${latestFileNameFor(time)}`;
}

/** The content CockroachDB writes into LATEST for a full backup subdirectory: "/2025/11/20-101500.00". */
export function latestContent(fullDir: string): string {
  return '/' + normalizeBackupDir(fullDir);
}

/** "/2025/11/20-101500.00/" -> "2025/11/20-101500.00". */
export function normalizeBackupDir(dir: string): string {
  return dir.trim().replace(/^\/+/, '').replace(/\/+$/, '');
}

export interface DecodedLatestName {
  /** The Go time string encoded in the name (e.g. "2025-11-20 10:15:03.112233 +0000 UTC m=+1.0"). */
  timeString: string;
  /** That time, when it parses. */
  time?: Date;
}

/**
 * Decodes a timestamped LATEST name or key ("LATEST-<hex>" or "metadata/latest/LATEST-<hex>").
 * Returns undefined when it is not such a name.
 */
export function decodeLatestName(nameOrKey: string): DecodedLatestName | undefined {
  const base = nameOrKey.slice(nameOrKey.lastIndexOf('/') + 1);
  const m = /^LATEST-([0-9a-fA-F]+)$/.exec(base);
  if (!m || m[1].length % 2 !== 0) return undefined;
  try {
    const timeString = decodeDescendingString(Buffer.from(m[1], 'hex'));
    return { timeString, time: parseGoTime(timeString) };
  } catch {
    return undefined;
  }
}

/** True for "metadata/latest/LATEST-<anything>" keys (relative to the collection). */
export function isTimestampedLatestKey(key: string): boolean {
  return key.startsWith(`${LATEST_HISTORY_DIR}/${LATEST_FILE_NAME}`);
}
