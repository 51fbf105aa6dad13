import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from './index.ts';
import { parseDialString, parseOriginateArgs, separateString } from './originate.ts';
import { RawEslPeer } from './raw-esl-client.ts';

describe('separateString (switch_separate_string)', () => {
  it.each([
    ['a b  c', ' ', ['a', 'b', 'c']],
    ["x 'a b' c", ' ', ['x', 'a b', 'c']],
    ["x a'b c", ' ', ['x', "a'b", 'c']],
    ['a,b,,c', ',', ['a', 'b', '', 'c']],
    ['a\\,b,c', ',', ['a,b', 'c']],
    ['^^:a,b:c', ',', ['a,b', 'c']],
  ])('%j split on %j', (input, delim, parts) => {
    expect(separateString(input, delim)).toEqual(parts);
  });

  it('keeps the rest in the last part when the count is capped', () => {
    expect(separateString('u v w x y', ' ', 3)).toEqual(['u', 'v', 'w x y']);
  });
});

describe('originate arguments', () => {
  it('splits on unquoted spaces: &socket(…) needs its quotes to keep "async full"', () => {
    expect(parseOriginateArgs("loopback/7000 '&socket(127.0.0.1:8084 async full)'")?.target).toEqual({ kind: 'app', name: 'socket', arg: '127.0.0.1:8084 async full' });
    expect(parseOriginateArgs('loopback/7000 &socket(127.0.0.1:8084 async full)')?.target).toEqual({ kind: 'app', name: 'socket', arg: '127.0.0.1:8084' });
    expect(parseOriginateArgs('loopback/7000 &park()')?.target).toEqual({ kind: 'app', name: 'park', arg: '' });
    expect(parseOriginateArgs('loopback/7000 7100 XML public')?.target).toEqual({ kind: 'extension', extension: '7100', dialplan: 'XML', context: 'public' });
    expect(parseOriginateArgs('loopback/7000')).toBeUndefined();
  });

  it('reads legs, per-leg variables and sequential / simultaneous groups', () => {
    const ds = parseDialString('{a=1}[b=2,c=3]sofia/gateway/gw1/+15551234567,user/1001@example.com|loopback/7000/public');
    expect(ds.ok).toBe(true);
    if (!ds.ok) return;
    expect(ds.vars).toEqual([['a', '1']]);
    expect(ds.groups.map((g) => g.map((l) => [l.kind, l.destination, l.vars]))).toEqual([
      [
        ['gateway', '+15551234567', [['b', '2'], ['c', '3']]],
        ['user', '1001', []],
      ],
      [['loopback', '7000', []]],
    ]);
    expect(parseDialString('nosuch/thing')).toEqual({ ok: false, cause: 'CHAN_NOT_IMPLEMENTED' });
  });
});

/** The measured table of shared/fixtures/esl/README.md, through `api originate` and `uuid_getvar`. */
describe('{…} variable block, as FreeSWITCH 1.11 parses it', () => {
  let sim: FreeSwitchSim;
  let esl: RawEslPeer;
  beforeAll(async () => {
    sim = await FreeSwitchSim.start({ timeScale: 0.01 });
    esl = await RawEslPeer.authed(sim.port);
  });
  afterAll(async () => {
    esl.close();
    await sim.close();
  });

  const table: Array<[spec: string, expected: Record<string, string> | string]> = [
    ['a=x,b=y', { a: 'x', b: 'y' }],
    ["a='x,y'", { a: 'x' }],
    ['a=x\\,y', { a: 'x,y' }],
    ["a='x\\,y z'", { a: 'x,y z' }],
    ["a='x y'", { a: 'x y' }],
    ['a=x y', '-ERR DESTINATION_OUT_OF_ORDER\n'],
    ["a=x'y", { a: "x'y" }],
    ["a='x}y'", '-ERR CHAN_NOT_IMPLEMENTED\n'],
    ['a=x\\}y', '-ERR CHAN_NOT_IMPLEMENTED\n'],
    ['a="q,r"', { a: '"q' }],
    ['a=x%2Cy', { a: 'x%2Cy' }],
    ['a=caf%E9', { a: 'caf%E9' }],
  ];

  it.each(table)('%s', async (spec, expected) => {
    const uuid = randomUUID();
    const reply = await esl.api(`originate {origination_uuid=${uuid},${spec}}loopback/7200 &park()`);
    if (typeof expected === 'string') {
      expect(reply).toBe(expected);
      expect(await esl.api(`uuid_exists ${uuid}`)).toBe('false');
      return;
    }
    expect(reply).toBe(`+OK ${uuid}\n`);
    for (const [name, value] of Object.entries(expected)) expect(await esl.api(`uuid_getvar ${uuid} ${name}`)).toBe(value);
    expect(await esl.api(`uuid_kill ${uuid}`)).toBe('+OK\n');
  });
});
