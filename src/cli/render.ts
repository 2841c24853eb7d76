/**
 * Rendering: tables, sizes, errors and progress. Progress is one redrawn line on a terminal
 * and plain lines otherwise; errors print message, hint and operation id.
 */
import type { ProgressEvent } from '../base/index.js';
import { BangerError } from '../base/index.js';

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${String(seconds)}s ago`;
  if (seconds < 3600) return `${String(Math.round(seconds / 60))}m ago`;
  if (seconds < 86400) return `${String(Math.round(seconds / 3600))}h ago`;
  return `${String(Math.round(seconds / 86400))}d ago`;
}

export function formatError(err: unknown): string {
  if (err instanceof BangerError) {
    let text = `banger: ${err.message}`;
    if (err.hint) text += `\n  hint: ${err.hint.split('\n').join('\n  ')}`;
    if (err.opId) text += `\n  (operation ${err.opId})`;
    return text + '\n';
  }
  const message = err instanceof Error ? err.message : String(err);
  return `banger: ${message}\n`;
}

/**
 * Progress on stderr: redrawn in place on a terminal. When stderr is not a terminal, only
 * long operations (builds, downloads) print their steps as lines; a `vm run` in a script
 * keeps stderr for the guest command's own output.
 */
export class ProgressRenderer {
  private active = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(event: ProgressEvent, options: { lines?: boolean } = {}): void {
    if (!this.out.isTTY && !options.lines) return;
    const pct = event.fraction === undefined ? '' : ` ${String(Math.round(event.fraction * 100))}%`;
    const text = `${event.message}${pct}`;
    if (this.out.isTTY) {
      const width = (this.out.columns || 80) - 1;
      this.out.write(`\r\x1b[2K${text.slice(0, width)}`);
      this.active = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Clears the in-place line before other output. */
  done(): void {
    if (this.active) this.out.write('\r\x1b[2K');
    this.active = false;
  }
}
