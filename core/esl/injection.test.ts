/**
 * Hostile values through every path that carries user data to FreeSWITCH. For each value and
 * path, either the layer refuses it (SB_ESL_UNSAFE_VALUE, nothing written) or the simulator
 * receives exactly one well-formed command and ends up with exactly the value sent.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim, type SimCommand } from '../../test/support/freeswitch-sim/index.ts';
import { isSwitchboardError } from '../errors.ts';
import type { Call } from './call.ts';
import { EslClient } from './client.ts';
import { EslServer } from './server.ts';

const HOSTILE: Array<[string, string]> = [
  ['ordinary E.164 number', '+15551234567'],
  ['blank line then a second command', '1000\n\napi hupall'],
  ['CRLF then bgapi', '1000\r\nbgapi hupall'],
  ['trailing newline', '1000\n'],
  ['leading newline', '\napi status'],
  ['name with a space', 'John Smith'],
  ['name with a comma', 'Smith, John'],
  ['apostrophe', "O'Brien"],
  ['apostrophe and space', "O'Brien Jr"],
  ['closing brace and app', 'x}&park()'],
  ['a whole variable block', '{origination_uuid=evil}'],
  ['comma then another variable', 'a,origination_uuid=bad'],
  ['api expansion', '${system rm -rf /}'],
  ['global variable expansion', '$${hold_music}'],
  ['array separator syntax', '^^:a:b'],
  ['raw percent escape', 'caf%E9'],
  ['lone percent', '100%'],
  ['unicode', 'Jürgen ☎'],
  ['tab', 'a\tb'],
  ['NUL byte', 'a\0b'],
  ['double quotes', '"double"'],
  ['quotes inside', "a'b'c"],
  ['SQL-ish', "' or 1=1 --"],
  ['socket application', '&socket(198.51.100.1:8084 async full)'],
  ['extension with dialplan and context', '1000 XML default'],
  ['leg variable block', '[leg_var=1]user/1001'],
  ['angle brackets', '<foo>'],
  ['escaped comma', '\\,escaped'],
  ['JSON', '{"json": "value", "n": [1,2]}'],
  ['path traversal', '../../etc/passwd'],
  ['leading dash', '-rf'],
  ['DTMF-like', '*#123#'],
  ['SIP URI', 'sip:evil@198.51.100.1;transport=tcp'],
  ['pipe then another leg', '|user/1002'],
  ['spaces only', '   '],
  ['1000 characters', 'a'.repeat(1000)],
];

let sim: FreeSwitchSim;
let client: EslClient;
let server: EslServer;
let call: Call;

beforeAll(async () => {
  sim = await FreeSwitchSim.start({ timeScale: 0.01 });
  client = new EslClient({ host: sim.host, port: sim.port, password: 'ClueCon' });
  await client.start();
  let resolveCall!: (c: Call) => void;
  const got = new Promise<Call>((r) => (resolveCall = r));
  server = new EslServer({ host: '127.0.0.1', port: 0, onCall: async (c) => { resolveCall(c); await c.ended; } });
  const addr = await server.start();
  await sim.inboundCall({ to: '7000', from: '1000', socket: { host: '127.0.0.1', port: addr.port } });
  call = await got;
  await call.answer();
});

afterAll(async () => {
  await call?.hangup().catch(() => {});
  await server?.close(100);
  await client?.close();
  await sim?.close();
});

/** Runs `action`, then a marker command, and returns what the simulator received in between. */
async function commandsDuring(action: () => Promise<unknown>): Promise<{ error: unknown; commands: SimCommand[] }> {
  const start = sim.received.length;
  let error: unknown;
  try {
    await action();
  } catch (err) {
    error = err;
  }
  const marker = `sb_marker_${randomUUID().slice(0, 8)}`;
  await client.api(`uuid_exists ${marker}`).catch(() => {});
  await sim.waitForCommand((c) => c.line.includes(marker));
  const all = sim.received.slice(start);
  return { error, commands: all.filter((c) => !c.line.includes(marker)) };
}

function expectRefused(error: unknown, commands: SimCommand[]): void {
  expect(isSwitchboardError(error, 'SB_ESL_UNSAFE_VALUE'), `expected SB_ESL_UNSAFE_VALUE, got ${String(error)}`).toBe(true);
  expect(commands).toEqual([]);
}

describe.each(HOSTILE)('hostile value: %s', (_label, value) => {
  it('execute(set): one sendmsg, the value intact in its body', async () => {
    const { error, commands } = await commandsDuring(() => call.execute('set', `sb_exec=${value}`));
    if (value.includes('${')) return expectRefused(error, commands);
    expect(error).toBeUndefined();
    expect(commands).toHaveLength(1);
    expect(commands[0]?.headers['execute-app-name']).toBe('set');
    expect(commands[0]?.body).toBe(`sb_exec=${value}`);
    expect(sim.channel(call.id)?.vars.get('sb_exec')).toBe(value);
  });

  it('setVar: one command (uuid_setvar, or set with the value in a body) and the exact value', async () => {
    const { error, commands } = await commandsDuring(() => call.setVar('sb_var', value));
    if (value.includes('${')) return expectRefused(error, commands);
    expect(error).toBeUndefined();
    expect(commands).toHaveLength(1);
    const cmd = commands[0] as SimCommand;
    if (cmd.line.startsWith('api ')) expect(cmd.line).toBe(`api uuid_setvar ${call.id} sb_var ${value}`);
    else expect(cmd.body).toBe(`sb_var=${value}`);
    expect(sim.channel(call.id)?.vars.get('sb_var')).toBe(value);
  });

  it('originate caller id name ({…} block): refused, or one command and the exact value on the new channel', async () => {
    const uuid = randomUUID();
    const { error, commands } = await commandsDuring(() =>
      client.originate({ uuid, endpoint: { kind: 'loopback', extension: '7200' }, app: { park: true }, callerIdName: value, callerIdNumber: '1000' }),
    );
    if (error !== undefined) return expectRefused(error, commands);
    expect(commands).toHaveLength(1);
    expect(commands[0]?.line.startsWith('bgapi originate {')).toBe(true);
    const channel = sim.channel(uuid);
    expect(channel, 'the originated channel exists under the pre-chosen uuid').toBeDefined();
    expect(channel?.vars.get('origination_caller_id_name')).toBe(value);
    await client.api(`uuid_kill ${uuid}`);
  });
});

it('covers at least 30 hostile values', () => {
  expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
});
