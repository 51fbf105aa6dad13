/** Conditions of the branch step: on a value (usually a template), or on the time of day. */
export type Condition =
  | { value: unknown; equals?: unknown; not_equals?: unknown; in?: unknown[]; matches?: string; empty?: boolean }
  | { time?: string; days?: string | string[]; timezone?: string; dates?: string[] };

export const conditionSchema = {
  anyOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['value'],
      properties: {
        value: { description: 'What to test, e.g. "${steps.menu.digits}".' },
        equals: {},
        not_equals: {},
        in: { type: 'array' },
        matches: { type: 'string', description: 'Regular expression.' },
        empty: { type: 'boolean' },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        time: { type: 'string', pattern: '^\\d{2}:\\d{2}-\\d{2}:\\d{2}$', description: 'HH:MM-HH:MM (may wrap midnight).' },
        days: { description: 'mon-fri, or a list like [sat, sun].', anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        timezone: { type: 'string', description: 'IANA zone, e.g. Europe/Berlin (default: the server\'s).' },
        dates: { type: 'array', items: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, description: 'Only on these dates (YYYY-MM-DD), e.g. holidays.' },
      },
    },
  ],
} as const;

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export function conditionHolds(c: Condition, now: Date): boolean {
  if ('value' in c) {
    const v = c.value;
    if (c.empty !== undefined && (v === undefined || v === null || v === '') !== c.empty) return false;
    if (c.equals !== undefined && String(v) !== String(c.equals)) return false;
    if (c.not_equals !== undefined && String(v) === String(c.not_equals)) return false;
    if (c.in !== undefined && !c.in.map(String).includes(String(v))) return false;
    if (c.matches !== undefined && !new RegExp(c.matches).test(String(v ?? ''))) return false;
    return true;
  }
  const local = wallClock(now, c.timezone);
  if (c.dates && !c.dates.includes(local.date)) return false;
  if (c.days !== undefined && !dayList(c.days).includes(local.day)) return false;
  if (c.time !== undefined) {
    const [from, to] = c.time.split('-').map(minutes) as [number, number];
    const m = local.minutes;
    if (from <= to ? m < from || m >= to : m < from && m >= to) return false;
  }
  return true;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** `mon-fri`, `sat,sun`, `[mon, wed]`, `fri-mon` (wraps) → day abbreviations. */
export function dayList(days: string | string[]): string[] {
  const out: string[] = [];
  for (const raw of Array.isArray(days) ? days : days.split(',')) {
    const [a, b] = raw.trim().toLowerCase().split('-').map((d) => DAYS.indexOf(d.trim().slice(0, 3)));
    if (a === undefined || a < 0) continue;
    if (b === undefined) {
      out.push(DAYS[a] as string);
      continue;
    }
    if (b < 0) continue;
    for (let i = a; ; i = (i + 1) % 7) {
      out.push(DAYS[i] as string);
      if (i === b) break;
    }
  }
  return out;
}

function wallClock(now: Date, timezone: string | undefined): { day: string; minutes: number; date: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  return { day: (parts.weekday ?? '').toLowerCase().slice(0, 3), minutes: Number(parts.hour) * 60 + Number(parts.minute), date: `${parts.year}-${parts.month}-${parts.day}` };
}
