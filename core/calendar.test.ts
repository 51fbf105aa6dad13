import { describe, expect, it } from 'vitest';
import { isTimeZone, minutesOf, parseDays, wallTime } from './calendar.ts';

describe('calendar', () => {
  it('reads day lists, ranges that wrap, full names, and refuses unknown days', () => {
    expect([...parseDays('mon-fri')]).toEqual([1, 2, 3, 4, 5]);
    expect([...parseDays('fri-mon')]).toEqual([5, 6, 0, 1]);
    expect([...parseDays(['Saturday', 'sun'])]).toEqual([6, 0]);
    expect(parseDays(undefined).size).toBe(7);
    expect(parseDays([]).size).toBe(0);
    expect(() => parseDays('mon-funday')).toThrow(/unknown day/);
  });

  it('gives the wall time and weekday of an instant in a zone', () => {
    const t = Date.parse('2026-11-25T23:30:00Z'); // Wednesday in UTC, Thursday in Tokyo
    expect(wallTime(t, 'UTC')).toMatchObject({ year: 2026, month: 11, day: 25, hour: 23, minute: 30, weekday: 3 });
    expect(wallTime(t, 'Asia/Tokyo')).toMatchObject({ day: 26, hour: 8, weekday: 4 });
    expect(minutesOf('09:30')).toBe(570);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
