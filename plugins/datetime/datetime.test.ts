import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../core/config.ts';
import { createLogger, silentLogger, type Logger } from '../../core/log.ts';
import { createAjv, PluginHost } from '../../core/plugins/host.ts';
import type { ToolContext } from '../../core/plugins/types.ts';
import plugin, { wallClock, type DatetimeResult } from './index.ts';

function toolContext(options: Record<string, unknown> = {}, log: Logger = silentLogger): ToolContext {
  return { call: undefined, log, signal: new AbortController().signal, config: loadConfig({}), options };
}

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

const WEDNESDAY_10_UTC = new Date('2026-11-25T10:00:00Z');

describe('datetime: wall clock in a zone', () => {
  it.each([
    ['UTC', '2026-11-25T10:00:00+00:00', '10:00', 'Wednesday', '+00:00'],
    ['Europe/Berlin', '2026-11-25T11:00:00+01:00', '11:00', 'Wednesday', '+01:00'],
    ['America/New_York', '2026-11-25T05:00:00-05:00', '05:00', 'Wednesday', '-05:00'],
    ['Asia/Kolkata', '2026-11-25T15:30:00+05:30', '15:30', 'Wednesday', '+05:30'],
    ['Pacific/Auckland', '2026-11-25T23:00:00+13:00', '23:00', 'Wednesday', '+13:00'],
    ['Pacific/Kiritimati', '2026-11-26T00:00:00+14:00', '00:00', 'Thursday', '+14:00'],
    ['Pacific/Pago_Pago', '2026-11-24T23:00:00-11:00', '23:00', 'Tuesday', '-11:00'],
  ])('%s', (zone, iso, time, weekday, offset) => {
    const r = wallClock(WEDNESDAY_10_UTC, zone);
    expect(r).toEqual({ iso, date: iso.slice(0, 10), time, weekday, timezone: zone, utc_offset: offset });
    expect(new Date(r.iso).getTime()).toBe(WEDNESDAY_10_UTC.getTime());
  });

  it('follows daylight saving time', () => {
    expect(wallClock(new Date('2026-07-01T10:00:00Z'), 'Europe/Berlin')).toMatchObject({ time: '12:00', utc_offset: '+02:00' });
  });
});

describe('datetime tool', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(WEDNESDAY_10_UTC);
  });
  afterEach(() => vi.useRealTimers());

  it('answers in the timezone the flow configures', async () => {
    const { result, outcome } = await plugin.run({}, toolContext({ timezone: 'Europe/Berlin' }));
    expect(outcome).toBeUndefined();
    expect(result).toEqual({ iso: '2026-11-25T11:00:00+01:00', date: '2026-11-25', time: '11:00', weekday: 'Wednesday', timezone: 'Europe/Berlin', utc_offset: '+01:00' });
  });

  it('answers in the server\'s timezone when the flow configures none', async () => {
    const { result } = await plugin.run({}, toolContext());
    const r = result as DatetimeResult;
    expect(r.timezone).toBe(new Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(new Date(r.iso).getTime()).toBe(WEDNESDAY_10_UTC.getTime());
  });

  it('a timezone in the input wins over the configured one, spelled canonically', async () => {
    const { result } = await plugin.run({ timezone: ' america/new_york ' }, toolContext({ timezone: 'Europe/Berlin' }));
    expect(result).toMatchObject({ timezone: 'America/New_York', time: '05:00', utc_offset: '-05:00' });
  });

  it('an empty timezone in the input means the configured one', async () => {
    const { result } = await plugin.run({ timezone: '' }, toolContext({ timezone: 'Asia/Tokyo' }));
    expect(result).toMatchObject({ timezone: 'Asia/Tokyo', time: '19:00' });
  });

  it.each(['Mars/Olympus_Mons', 'Berlin', 'GMT+25', 'x'.repeat(500)])('an unknown timezone from the model is a result error, not a throw: %s', async (zone) => {
    const { result, outcome } = await plugin.run({ timezone: zone }, toolContext());
    expect(outcome).toBeUndefined();
    expect(result).toEqual({ error: expect.stringContaining('unknown timezone') });
    expect(JSON.stringify(result).length).toBeLessThan(200);
  });

  it('an unknown timezone in the flow is a result error and one warning', async () => {
    const { log, lines } = capturingLogger();
    const { result } = await plugin.run({}, toolContext({ timezone: 'Europe/Atlantis' }, log));
    expect(result).toEqual({ error: expect.any(String) });
    expect(lines).toEqual([expect.objectContaining({ level: 40, timezone: 'Europe/Atlantis' })]);
  });
});

describe('datetime manifest', () => {
  it('the input schema compiles and rejects a bad input', () => {
    const validate = createAjv().compile(plugin.meta.schema);
    expect(validate({})).toBe(true);
    expect(validate({ timezone: 'Europe/Berlin' })).toBe(true);
    expect(validate({ timezone: 5 })).toBe(false);
    expect(validate('now')).toBe(false);
  });

  it('the options schema rejects a typo', () => {
    const validate = createAjv().compile(plugin.meta.optionsSchema ?? {});
    expect(validate({ timezone: 'Europe/Berlin' })).toBe(true);
    expect(validate({ tz: 'Europe/Berlin' })).toBe(false);
  });

  it('loads through the plugin host from plugins/', async () => {
    const host = await PluginHost.load([`${PROJECT_ROOT}/plugins`]);
    const folder = dirname(fileURLToPath(import.meta.url));
    expect(host.problems.filter((p) => p.source === folder)).toEqual([]);
    expect(host.tools.get('datetime')).toMatchObject({ source: folder, plugin: { meta: { kind: 'tool', name: 'datetime' } } });
  });
});
