/**
 * Text of the Run monitor: start times, durations, shortened paths. Pure functions, no DOM (unit-tested).
 */
import { IRun } from './tokens';

/** Paths longer than this (characters) are shortened in the sidebar; the full path is the title. */
export const MAX_PATH_CHARS = 40;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** "2026-12-05" in the browser's time zone. */
function day(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** "06:12:03" in the browser's time zone. */
function clock(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * When a run started, as the sidebar shows it: the time of day when it started on the same day as `now`,
 * else the date and the minute.
 *
 * @param started - seconds since the epoch (the run's record)
 * @param now - seconds since the epoch
 */
export function formatStart(started: number, now: number): string {
  const s = new Date(started * 1000);
  const n = new Date(now * 1000);
  return day(s) === day(n) ? clock(s) : `${day(s)} ${clock(s).slice(0, 5)}`;
}

/** The full date and time (the start time's title). */
export function formatDateTime(t: number): string {
  const d = new Date(t * 1000);
  return `${day(d)} ${clock(d)}`;
}

/**
 * A wall-clock duration: "0.04 s", "4.2 s", "42 s", "3 min 05 s", "2 h 03 min".
 *
 * @param seconds - duration (s); negative (clocks apart) counts as 0
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 1) {
    return `${(Math.floor(s * 100) / 100).toFixed(2)} s`;
  }
  if (s < 10) {
    return `${(Math.floor(s * 10) / 10).toFixed(1)} s`;
  }
  const whole = Math.floor(s);
  if (whole < 60) {
    return `${whole} s`;
  }
  if (whole < 3600) {
    return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  }
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
}

/** Whether a run is still going (it may be stopped). */
export function isActive(run: IRun): boolean {
  return run.status === 'starting' || run.status === 'running';
}

/**
 * How long a run has run (s): to its end when it is over, to `now` while it goes.
 *
 * A run lost with its process has no end: its last update is the last time it was seen running.
 *
 * @param now - seconds since the epoch, on the server's clock (the runs answer's `now`)
 */
export function runDuration(run: IRun, now: number): number {
  const end = run.finished ?? (isActive(run) ? now : run.updated);
  return Math.max(0, end - run.started);
}

/**
 * `text` shortened to `max` characters with "…" in the middle, keeping the end (the file name) whole when
 * it can: "bmtk/examples/poin…/out.stopped/spikes.h5".
 */
export function middleEllipsis(text: string, max = MAX_PATH_CHARS): string {
  const chars = Array.from(text); // code points: never cut a character in two
  if (chars.length <= max) {
    return text;
  }
  if (max < 5) {
    return chars.slice(0, max).join('');
  }
  const budget = max - 1;
  const base = chars.length - 1 - chars.lastIndexOf('/'); // the last part, after its '/'
  const tail = Math.max(Math.ceil(budget / 2), Math.min(base + 1, budget - Math.floor(budget / 3)));
  return `${chars.slice(0, budget - tail).join('')}…${chars.slice(chars.length - tail).join('')}`;
}

/** What a title says before the Python equivalent of a button (the browser test runs what follows it). */
export const IN_PYTHON = 'In Python, in a kernel of this server: ';

/** The Python equivalent of Stop (the same request the server makes: a stop file the run reads). */
export function stopCode(runId: string): string {
  return `from modelkit.runstatus import request_stop; request_stop(${JSON.stringify(runId)})`;
}

/** The Python equivalent of Clear finished. */
export function clearCode(): string {
  return 'from modelkit.runstatus import clear_finished; clear_finished()';
}
