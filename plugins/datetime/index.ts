import { defineTool } from '../../core/plugins/types.ts';

export interface DatetimeInput {
  timezone?: string;
}

export interface DatetimeOptions {
  timezone?: string;
}

export interface DatetimeResult {
  /** The current instant in ISO 8601 with the zone's offset: `2026-11-25T11:00:00+01:00`. */
  iso: string;
  /** Local date, `YYYY-MM-DD`. */
  date: string;
  /** Local time, 24-hour `HH:MM`. */
  time: string;
  /** English weekday name, `Wednesday`. */
  weekday: string;
  /** IANA zone name. */
  timezone: string;
  /** `+01:00`, `-05:00`, `+05:30`. */
  utc_offset: string;
}

export default defineTool<DatetimeInput>({
  meta: {
    name: 'datetime',
    version: '1.0.0',
    engine: '^0.1',
    description:
      'Returns the current date, local time, weekday and UTC offset. Call it whenever the caller asks the time, the date or the day of the week, ' +
      'or before you reason about "today", "tomorrow", opening hours or deadlines: never guess the date or time. ' +
      'Without a timezone it answers for the business\'s own timezone; pass timezone only when the caller asks about another place.',
    schema: {
      type: 'object',
      properties: {
        timezone: {
          type: 'string',
          description: 'IANA timezone name such as Europe/Berlin or America/New_York. Omit it for the business\'s own local time.',
        },
      },
    },
    optionsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timezone: { type: 'string', description: 'IANA timezone of the business, e.g. Europe/Berlin (default: the server\'s).' },
      },
    },
  },
  async run(input, ctx) {
    const asked = typeof input.timezone === 'string' ? input.timezone.trim() : '';
    if (asked !== '') {
      const timezone = resolveZone(asked);
      if (!timezone) return { result: { error: `unknown timezone "${asked.slice(0, 64)}": use an IANA name such as Europe/Berlin or America/New_York` } };
      return { result: wallClock(new Date(), timezone) };
    }
    const configured = typeof ctx.options.timezone === 'string' ? ctx.options.timezone.trim() : '';
    if (configured === '') return { result: wallClock(new Date(), serverZone()) };
    const timezone = resolveZone(configured);
    if (!timezone) {
      ctx.log.warn({ timezone: configured }, 'datetime: the flow configures an unknown timezone');
      return { result: { error: 'the date and time are not available right now' } };
    }
    return { result: wallClock(new Date(), timezone) };
  },
});

function serverZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The zone's canonical spelling (`europe/berlin` → `Europe/Berlin`), or undefined when ICU does not know it. */
export function resolveZone(name: string): string | undefined {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  // ICU maps legacy names to a representative zone (EST → America/Panama); keep the name that was asked for then.
  return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
}

export function wallClock(now: Date, timezone: string): DatetimeResult {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'long',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  const [year, month, day, hour, minute, second] = (['year', 'month', 'day', 'hour', 'minute', 'second'] as const).map(part);
  const date = `${year}-${month}-${day}`;
  const time = `${hour}:${minute}`;
  const wall = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const offsetMinutes = Math.round((wall - Math.floor(now.getTime() / 1000) * 1000) / 60_000);
  const utcOffset = formatOffset(offsetMinutes);
  return { iso: `${date}T${time}:${second}${utcOffset}`, date, time, weekday: part('weekday'), timezone, utc_offset: utcOffset };
}

function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
