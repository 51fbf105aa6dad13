import { minutesOf, parseDays, wallTime } from '../calendar.ts';
import type { CallJob } from './call-job.schema.ts';

export type CallWindow = NonNullable<CallJob['window']>;

export { parseDays, isTimeZone } from '../calendar.ts';

/** Offset of the zone at an instant, in ms (local − UTC). */
function offsetAt(ms: number, zone: string): number {
  const w = wallTime(ms, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/** The instant a local wall time happens in the zone (a time skipped by DST moves forward by the gap). */
function instantOf(year: number, month: number, day: number, minutes: number, zone: string): number {
  const asUtc = Date.UTC(year, month - 1, day, 0, minutes);
  let guess = asUtc - offsetAt(asUtc, zone);
  guess = asUtc - offsetAt(guess, zone);
  return guess;
}


/**
 * The earliest instant ≥ `from` (ms) inside the window, or `from` itself when it already is.
 * The window opens on each listed day at `start` and closes at `end` the same day, or the next
 * day when `end` ≤ `start` (overnight). Undefined if no listed day exists (cannot happen with a
 * valid `days`).
 */
export function nextWindowStart(window: CallWindow, from: number): number | undefined {
  const zone = window.timezone ?? 'UTC';
  const days = parseDays(window.days);
  const start = minutesOf(window.start);
  let end = minutesOf(window.end);
  if (end <= start) end += 24 * 60;
  const today = wallTime(from, zone);
  // Yesterday's overnight window may still be open; eight days cover every weekly pattern.
  for (let offset = -1; offset <= 8; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    if (!days.has(date.getUTCDay())) continue;
    const y = date.getUTCFullYear();
    const mo = date.getUTCMonth() + 1;
    const d = date.getUTCDate();
    const opens = instantOf(y, mo, d, start, zone);
    const closes = instantOf(y, mo, d, end, zone);
    if (from < opens) return opens;
    if (from < closes) return from;
  }
  return undefined;
}

/** When the job may first be dialled, at or after `now`: notBefore and the window both respected. */
export function earliestStart(job: Pick<CallJob, 'notBefore' | 'window'>, now: number): number {
  let t = now;
  if (job.notBefore !== undefined) {
    const nb = Date.parse(job.notBefore);
    if (Number.isFinite(nb) && nb > t) t = nb;
  }
  if (job.window !== undefined) t = nextWindowStart(job.window, t) ?? t;
  return t;
}
