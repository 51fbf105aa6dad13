import { describe, expect, it } from 'vitest';
import { earliestStart, nextWindowStart, parseDays } from './window.ts';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('calling windows', () => {
  it.each([
    ['inside: now', { start: '09:00', end: '17:00' }, '2025-06-04T10:30:00Z', '2025-06-04T10:30:00.000Z'],
    ['before: today at start', { start: '09:00', end: '17:00' }, '2025-06-04T07:00:00Z', '2025-06-04T09:00:00.000Z'],
    ['at end (exclusive): tomorrow', { start: '09:00', end: '17:00' }, '2025-06-04T17:00:00Z', '2025-06-05T09:00:00.000Z'],
    ['Friday evening, mon-fri: Monday', { start: '09:00', end: '17:00', days: 'mon-fri' }, '2025-06-06T18:00:00Z', '2025-06-09T09:00:00.000Z'],
    ['Saturday, sat,sun: now', { start: '09:00', end: '17:00', days: 'sat,sun' }, '2025-06-07T12:00:00Z', '2025-06-07T12:00:00.000Z'],
    ['overnight, after midnight: still open', { start: '22:00', end: '06:00' }, '2025-06-04T03:00:00Z', '2025-06-04T03:00:00.000Z'],
    ['overnight, afternoon: tonight', { start: '22:00', end: '06:00' }, '2025-06-04T15:00:00Z', '2025-06-04T22:00:00.000Z'],
    ['overnight from Friday only, Saturday 02:00: open', { start: '22:00', end: '06:00', days: 'fri' }, '2025-06-07T02:00:00Z', '2025-06-07T02:00:00.000Z'],
    ['Paris (UTC+2 in June): 09:00 local is 07:00Z', { start: '09:00', end: '17:00', timezone: 'Europe/Paris' }, '2025-06-04T06:00:00Z', '2025-06-04T07:00:00.000Z'],
    ['New York (UTC−5 in January)', { start: '09:00', end: '17:00', timezone: 'America/New_York' }, '2025-01-15T23:00:00Z', '2025-01-16T14:00:00.000Z'],
    ['Paris across the spring DST change', { start: '09:00', end: '10:00', timezone: 'Europe/Paris' }, '2025-03-29T09:30:00Z', '2025-03-30T07:00:00.000Z'],
  ])('%s', (_title, window, now, expected) => {
    expect(iso(nextWindowStart(window, at(now)))).toBe(expected);
  });

  it('reads day lists and wrapping ranges', () => {
    expect([...parseDays('mon-fri')].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...parseDays('fri-mon')].sort()).toEqual([0, 1, 5, 6]);
    expect([...parseDays('sun,wed')].sort()).toEqual([0, 3]);
    expect(parseDays(undefined).size).toBe(7);
  });

  it('combines notBefore and the window: the first open moment at or after notBefore', () => {
    const job = { notBefore: '2025-06-04T16:59:00Z', window: { start: '09:00', end: '17:00' } };
    expect(iso(earliestStart(job, at('2025-06-04T08:00:00Z')))).toBe('2025-06-04T16:59:00.000Z');
    expect(iso(earliestStart({ ...job, notBefore: '2025-06-04T17:30:00Z' }, at('2025-06-04T08:00:00Z')))).toBe('2025-06-05T09:00:00.000Z');
    expect(earliestStart({}, 1234)).toBe(1234);
  });
});
