import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../core/config.ts';
import { Call } from '../../core/esl/index.ts';
import type { EslConnection } from '../../core/esl/connection.ts';
import { createLogger, type Logger } from '../../core/log.ts';
import { createAjv, PluginHost } from '../../core/plugins/host.ts';
import type { ToolContext } from '../../core/plugins/types.ts';
import plugin, { dialable } from './index.ts';

/** A Call over a connection that records every use: the tool must not transfer by itself. */
function fakeCall(): { call: Call; touched: string[] } {
  const touched: string[] = [];
  const channel = { 'Unique-ID': '6f1c2a4e-0000-4000-8000-000000000002', 'Caller-Caller-ID-Number': '+15551234567', 'Answer-State': 'answered' };
  const conn = new Proxy({ channel }, { get: (target, key) => (key === 'channel' ? target.channel : void touched.push(String(key))) });
  return { call: new Call(conn as unknown as EslConnection), touched };
}

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

function toolContext(options: Record<string, unknown>, over: { call?: Call; log?: Logger } = {}): ToolContext {
  return { call: over.call, log: over.log ?? capturingLogger().log, signal: new AbortController().signal, config: loadConfig({}), options };
}

const FRONT_DESK = { allowed: ['1001', '1002', '+15550001111'] };

describe('transfer_call tool', () => {
  it('transfers to an allowed destination: outcome transfer, destination at the top of the result, the call untouched', async () => {
    const { call, touched } = fakeCall();
    const r = await plugin.run({ destination: '1002', reason: 'billing question' }, toolContext(FRONT_DESK, { call }));
    expect(r).toEqual({ outcome: 'transfer', result: { transferring: true, destination: '1002', reason: 'billing question', message: expect.any(String) } });
    expect(touched).toEqual([]);
  });

  it('without a destination, transfers to the default, which is always allowed', async () => {
    const r = await plugin.run({}, toolContext({ allowed: ['1001'], default: '1000' }));
    expect(r).toMatchObject({ outcome: 'transfer', result: { destination: '1000' } });
    expect(await plugin.run({ destination: '1000' }, toolContext({ default: '1000' }))).toMatchObject({ outcome: 'transfer', result: { destination: '1000' } });
  });

  it('a number spoken with separators matches the allowed entry', async () => {
    const r = await plugin.run({ destination: '+1 (555) 000-1111' }, toolContext(FRONT_DESK));
    expect(r).toMatchObject({ outcome: 'transfer', result: { destination: '+15550001111' } });
  });

  it.each([
    ['a destination off the list', { destination: '1003' }, 'transfers to 1003 are not allowed'],
    ['an international number off the list', { destination: '+882123456' }, 'not allowed'],
    ['free text', { destination: 'sales department' }, 'is not an extension or phone number'],
    ['a SIP URI', { destination: 'sip:1001@evil.example.com' }, 'is not an extension or phone number'],
    ['a dial string', { destination: '1001,user/1002' }, 'is not an extension or phone number'],
    ['FreeSWITCH variable expansion', { destination: '${sofia_contact(1001)}' }, 'is not an extension or phone number'],
    ['a line break', { destination: '1001\nhangup' }, 'is not an extension or phone number'],
    ['a plus sign inside', { destination: '10+01' }, 'is not an extension or phone number'],
    ['no destination and no default', {}, 'no destination given'],
  ])('refuses %s with an error the model can read, listing what is allowed', async (_name, input, error) => {
    const { log, lines } = capturingLogger();
    const r = await plugin.run(input, toolContext(FRONT_DESK, { log }));
    expect(r.outcome).toBeUndefined();
    expect(r.result).toEqual({ error: expect.stringContaining(error), allowed: ['1001', '1002', '+15550001111'] });
    expect(lines).toHaveLength(1);
  });

  it('refuses everything, with one warning, when the flow allows nothing', async () => {
    const { log, lines } = capturingLogger();
    const r = await plugin.run({ destination: '1001' }, toolContext({}, { log }));
    expect(r).toEqual({ result: { error: expect.stringContaining('not available') } });
    expect(lines).toEqual([expect.objectContaining({ level: 40 })]);
  });

  it('ignores allowed entries that are not dialable', async () => {
    const r = await plugin.run({ destination: '1001' }, toolContext({ allowed: ['user/1001', '1001'] }));
    expect(r).toMatchObject({ outcome: 'transfer', result: { destination: '1001', transferring: true } });
    expect(await plugin.run({ destination: 'user/1001' }, toolContext({ allowed: ['user/1001'] }))).toEqual({ result: { error: expect.stringContaining('not available') } });
  });

  it('cleans the reason: one line, bounded', async () => {
    const { result } = await plugin.run({ destination: '1001', reason: `billing\r\n${'x'.repeat(500)}` }, toolContext(FRONT_DESK));
    expect((result as { reason: string }).reason).toMatch(/^billing x{192}$/);
  });

  it.each([
    ['1001', '1001'],
    [' 1001 ', '1001'],
    ['+49 (30) 1234-5678', '+493012345678'],
    ['555.123.4567', '5551234567'],
    ['*97', '*97'],
    ['#', '#'],
    ['', undefined],
    ['+', undefined],
    ['1001a', undefined],
    ['1'.repeat(65), undefined],
  ])('dialable(%j) → %j', (text, expected) => {
    expect(dialable(text)).toBe(expected);
  });
});

describe('transfer_call manifest', () => {
  it('the input schema compiles and rejects a bad input', () => {
    const validate = createAjv().compile(plugin.meta.schema);
    expect(validate({ destination: '1001', reason: 'sales' })).toBe(true);
    expect(validate({})).toBe(true);
    expect(validate({ destination: 1001 })).toBe(false);
    expect(validate([])).toBe(false);
  });

  it.each([
    [{ allowed: ['1001', '+15551234567', '*97'] }, true],
    [{ default: '1000' }, true],
    [{ allowed: [], default: '1000' }, true],
    [{}, false],
    [{ allowed: [1001] }, false],
    [{ allowed: ['sales'] }, false],
    [{ default: '1000', alowed: ['1001'] }, false],
  ])('the options schema: %j → %s', (options, ok) => {
    expect(createAjv().compile(plugin.meta.optionsSchema ?? {})(options)).toBe(ok);
  });

  it('loads through the plugin host from plugins/', async () => {
    const host = await PluginHost.load([`${PROJECT_ROOT}/plugins`]);
    const folder = dirname(fileURLToPath(import.meta.url));
    expect(host.problems.filter((p) => p.source === folder)).toEqual([]);
    expect(host.tools.get('transfer_call')).toMatchObject({ source: folder, plugin: { meta: { kind: 'tool', name: 'transfer_call' } } });
    expect(host.tools.get('transfer_call')?.validateOptions).toBeDefined();
  });
});
