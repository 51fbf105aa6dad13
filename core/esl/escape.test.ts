import { describe, expect, it } from 'vitest';
import { isSwitchboardError } from '../errors.ts';
import { originateArgs } from './dial-string.ts';
import { assertDialable, assertToken, encodeVarBlock, encodeVarValue } from './escape.ts';

const UUID = '0b9d9f6e-8a0b-4c47-9f2c-6c1b2a3d4e5f';

function rejects(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return isSwitchboardError(err, 'SB_ESL_UNSAFE_VALUE');
  }
}

describe('encodeVarValue follows FreeSWITCH 1.11 {…} parsing', () => {
  it.each([
    ['plain', 'x', 'x'],
    ['comma is escaped with a backslash (quotes do not protect it)', 'x,y', 'x\\,y'],
    ['spaces are protected by single quotes', 'x y', "'x y'"],
    ['comma and space', 'Smith, John', "'Smith\\, John'"],
    ['a lone quote needs nothing', "O'Brien", "O'Brien"],
    ['double quotes mean nothing to FreeSWITCH', '"q"', '"q"'],
    ['%XX is taken literally', 'caf%E9', 'caf%E9'],
    ['unicode', 'café ☎', "'café ☎'"],
  ])('%s', (_, input, wire) => {
    expect(encodeVarValue('v', input)).toBe(wire);
  });

  it.each([
    ['closing brace ends the block however quoted', 'x}y'],
    ['opening brace', '{x'],
    ['square bracket (leg block)', 'a]b'],
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['NUL', 'a\0b'],
    ['variable expansion', '${uuid_kill all}'],
    ['array separator syntax', '^^:a:b'],
    ['backslash', 'a\\,b'],
    ['quote and space together', "it's here"],
    ['tab', 'a\tb'],
    ['a leading quote would be stripped', "'abc'"],
    ['paired quotes would be dropped', "a'b'c"],
    ['edge whitespace would be trimmed', ' a '],
  ])('rejects: %s', (_, input) => {
    expect(rejects(() => encodeVarValue('v', input))).toBe(true);
  });

  it('builds a block and validates names', () => {
    expect(encodeVarBlock({ a: 'x,y', b: 'x y', n: 3, t: true })).toBe("{a=x\\,y,b='x y',n=3,t=true}");
    expect(rejects(() => encodeVarBlock({ 'bad name': 'x' }))).toBe(true);
    expect(rejects(() => encodeVarBlock({ 'a=b': 'x' }))).toBe(true);
  });
});

describe('originateArgs', () => {
  it('puts the pre-chosen uuid first-class and cannot be overridden by vars', () => {
    const args = originateArgs({
      uuid: UUID,
      endpoint: { kind: 'gateway', gateway: 'trunk1', number: '+15551234567' },
      app: { socket: { host: '127.0.0.1', port: 8084 } },
      callerIdName: 'ACME, Inc',
      vars: { origination_uuid: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
      timeoutSec: 30,
    });
    expect(args).toBe(`{origination_uuid=${UUID},origination_caller_id_name='ACME\\, Inc',originate_timeout=30}sofia/gateway/trunk1/+15551234567 '&socket(127.0.0.1:8084 async full)'`);
  });

  it.each(['1000 &park()', '1000\n', '+1555,user/1001', '1000}', '', '12a'])('rejects a number %j', (n) => {
    expect(rejects(() => assertDialable('number', n))).toBe(true);
  });

  it('tokens never carry whitespace or expansion', () => {
    expect(rejects(() => assertToken('t', 'a b'))).toBe(true);
    expect(rejects(() => assertToken('t', '${x}'))).toBe(true);
    expect(assertToken('t', '/sounds/a.wav')).toBe('/sounds/a.wav');
  });
});
