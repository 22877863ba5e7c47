/**
 * Progress on stderr (objects, bytes, rate, ETA), redrawn at most a few times a second. Only when
 * stderr is a TTY or --progress was given; data stays on stdout.
 */
import { humanBytes } from './render';

export interface ProgressState {
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export class ProgressLine {
  private last = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;
  private drawn = false;

  constructor(
    private readonly enabled: boolean,
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  static wanted(flag: boolean): boolean {
    return flag || Boolean(process.stderr.isTTY);
  }

  update(p: ProgressState, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < (this.tty ? 200 : 2000)) return;
    this.last = now;
    const secs = Math.max(0.001, (now - this.started) / 1000);
    const rate = p.bytesDone / secs;
    const eta = rate > 0 && p.bytesTotal > p.bytesDone ? Math.ceil((p.bytesTotal - p.bytesDone) / rate) : 0;
    const line = `${this.label}: ${p.objectsDone}/${p.objectsTotal} objects, ${humanBytes(p.bytesDone)}/${humanBytes(p.bytesTotal)}, ${humanBytes(rate)}/s${eta ? `, ETA ${eta}s` : ''}`;
    if (this.tty) this.out.write(`\r\x1b[K${line}`);
    else this.out.write(`${line}\n`);
    this.drawn = true;
  }

  done(p?: ProgressState): void {
    if (!this.enabled) return;
    if (p) this.update(p, true);
    if (this.tty && this.drawn) this.out.write('\n');
  }
}
