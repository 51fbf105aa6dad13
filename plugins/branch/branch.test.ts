import { describe, expect, it } from 'vitest';
import { testStep } from '../../test/support/step-tester.ts';
import { conditionHolds, dayList } from './conditions.ts';

describe('branch conditions', () => {
  const wed10 = new Date('2026-11-25T10:00:00Z'); // a Wednesday
  it.each([
    [{ value: '1', equals: '1' }, true],
    [{ value: 1, equals: '1' }, true],
    [{ value: '2', equals: '1' }, false],
    [{ value: '2', not_equals: '1' }, true],
    [{ value: '2', in: ['1', '2'] }, true],
    [{ value: '+4930123', matches: '^\\+49' }, true],
    [{ value: '', empty: true }, true],
    [{ value: 'x', empty: true }, false],
    [{ time: '09:00-17:00', days: 'mon-fri', timezone: 'UTC' }, true],
    [{ time: '09:00-17:00', days: 'mon-fri', timezone: 'America/Los_Angeles' }, false],
    [{ time: '22:00-06:00', timezone: 'Asia/Tokyo' }, false],
    [{ time: '22:00-06:00', timezone: 'America/Los_Angeles' }, true],
    [{ days: ['sat', 'sun'], timezone: 'UTC' }, false],
    [{ dates: ['2026-11-25'], timezone: 'UTC' }, true],
  ])('%j → %s', (cond, holds) => {
    expect(conditionHolds(cond as never, wed10)).toBe(holds);
  });

  it('reads day ranges, lists and wrapping ranges', () => {
    expect(dayList('mon-fri')).toEqual(['mon', 'tue', 'wed', 'thu', 'fri']);
    expect(dayList(['Sat', 'sunday'])).toEqual(['sat', 'sun']);
    expect(dayList('fri-mon')).toEqual(['fri', 'sat', 'sun', 'mon']);
  });
});

testStep('branch', [
  {
    name: 'jumps to the first case that holds, using step results',
    flow: `name: t
steps:
  - set: { vars: { choice: "2" } }
  - branch:
      cases:
        - if: { value: "\${vars.choice}", equals: "1" }
          goto: one
        - if: { value: "\${vars.choice}", equals: "2" }
          goto: two
      else: one
  - id: one
    hangup: CALL_REJECTED
  - id: two
    hangup: USER_BUSY
`,
    expect: { commands: ['hangup USER_BUSY'] },
  },
  {
    name: 'else when nothing holds',
    flow: `name: t
steps:
  - branch: { cases: [{ if: { value: "x", equals: "y" }, goto: a }], else: b }
  - id: a
    hangup: CALL_REJECTED
  - id: b
    hangup: USER_BUSY
`,
    expect: { commands: ['hangup USER_BUSY'] },
  },
  { name: 'a goto to an unknown step is a load error', flow: 'name: t\nsteps:\n  - branch: { cases: [{ if: { value: "1", equals: "1" }, goto: nowhere }] }\n', error: 'SB_FLOW_UNKNOWN_TARGET' },
]);
