/** Wall-clock time in IANA zones, weekday lists and HH:MM, shared by branch conditions and queue calling windows. */

export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/**
 * `mon-fri,sun`, `fri-mon` (wraps) or `[sat, sunday]` → weekday numbers (0 = Sunday), in the
 * order written. Undefined means every day. Throws on an unknown day.
 */
export function parseDays(days: string | readonly string[] | undefined): Set<number> {
  if (days === undefined) return new Set([0, 1, 2, 3, 4, 5, 6]);
  const out = new Set<number>();
  const index = (name: string): number => DAY_NAMES.indexOf(name.trim().toLowerCase().slice(0, 3) as (typeof DAY_NAMES)[number]);
  for (const part of typeof days === 'string' ? days.split(',') : days) {
    const [a, b] = part.split('-') as [string, string | undefined];
    const from = index(a);
    const to = b === undefined ? from : index(b);
    if (from < 0 || to < 0) throw new Error(`unknown day in "${String(days)}"`);
    for (let d = from; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === to) break;
    }
  }
  return out;
}

/** Zones Intl accepted: a batch checks the same few zones thousands of times, and each check builds a formatter (~0.2 ms). */
const knownZones = new Set<string>();

/** Whether Intl knows the zone (`Europe/Paris`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (knownZones.has(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    // Only accepted names, and at most a thousand (Intl also accepts other spellings of each zone).
    if (knownZones.size < 1000) knownZones.add(zone);
    return true;
  } catch {
    return false;
  }
}

export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local date and time of an instant in a zone (the server's zone when undefined). */
export function wallTime(ms: number, zone: string | undefined): WallTime {
  const key = zone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(key, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const year = parts.year ?? 0;
  const month = parts.month ?? 1;
  const day = parts.day ?? 1;
  return { year, month, day, hour: parts.hour ?? 0, minute: parts.minute ?? 0, second: parts.second ?? 0, weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay() };
}
