/**
 * The replay's progress line: on a TTY a live bar redrawn in place (`\r`, ANSI erase),
 * otherwise a plain line every few seconds. Shows events done / total, events/s and ETA.
 */

const WIDTH = 30;

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** Progress 0..1 of a replay: events done over the total counted at its start (1 when the total is unknown or reached). */
export function replayProgress(done: number, total: number | null): number {
  if (total === null || total <= 0) return done > 0 ? 1 : 0;
  return Math.min(1, done / total);
}

/** Draws a replay's progress to a stream. */
export class ProgressLine {
  #out: NodeJS.WritableStream;
  #tty: boolean;
  #label: string;
  #total: number | null;
  #startDone: number;
  #startedAt = performance.now();
  #lastPlain = 0;

  constructor(options: { out: NodeJS.WritableStream; label: string; total: number | null; startDone: number }) {
    this.#out = options.out;
    this.#tty = (options.out as { isTTY?: boolean }).isTTY === true;
    this.#label = options.label;
    this.#total = options.total;
    this.#startDone = options.startDone;
  }

  /** Shows `done` events; plain output is throttled unless `force`. */
  update(done: number, force = false): void {
    const now = performance.now();
    if (!this.#tty && !force && now - this.#lastPlain < 2000) return;
    this.#lastPlain = now;
    // Live events appended since the total was counted: the total grows with them (never "36,459/36,330").
    if (this.#total !== null && done > this.#total) this.#total = done;
    const fraction = replayProgress(done, this.#total);
    const seconds = (now - this.#startedAt) / 1000;
    const rate = seconds > 0 ? (done - this.#startDone) / seconds : 0;
    const remaining = this.#total === null ? Number.NaN : Math.max(0, this.#total - done) / (rate || Number.NaN);
    const counts = `${done.toLocaleString("en-US")}/${this.#total === null ? "?" : this.#total.toLocaleString("en-US")} events`;
    const stats = `${(fraction * 100).toFixed(1).padStart(5)}% ${counts} ${Math.round(rate).toLocaleString("en-US")} ev/s ETA ${formatSeconds(remaining)}`;
    if (this.#tty) {
      const filled = Math.round(fraction * WIDTH);
      this.#out.write(`\r\x1b[2K${this.#label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${stats}`);
    } else {
      this.#out.write(`${this.#label}: ${stats}\n`);
    }
  }

  /** Ends the progress output with a message on its own line. */
  finish(message: string): void {
    this.#out.write(this.#tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
  }
}
