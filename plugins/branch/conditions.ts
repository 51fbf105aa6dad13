import { DAY_NAMES, minutesOf, parseDays, wallTime } from '../../core/calendar.ts';

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
  const local = wallTime(now.getTime(), c.timezone);
  const date = `${local.year}-${String(local.month).padStart(2, '0')}-${String(local.day).padStart(2, '0')}`;
  if (c.dates && !c.dates.includes(date)) return false;
  if (c.days !== undefined && !parseDays(c.days).has(local.weekday)) return false;
  if (c.time !== undefined) {
    const [from, to] = c.time.split('-').map(minutesOf) as [number, number];
    const m = local.hour * 60 + local.minute;
    if (from <= to ? m < from || m >= to : m < from && m >= to) return false;
  }
  return true;
}

/** Day names of a `days` condition, in the order written (for messages and tests). */
export function dayList(days: string | string[]): string[] {
  return [...parseDays(days)].map((d) => DAY_NAMES[d] as string);
}
