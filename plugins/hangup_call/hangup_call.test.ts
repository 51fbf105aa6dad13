import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../core/config.ts';
import { Call } from '../../core/esl/index.ts';
import type { EslConnection } from '../../core/esl/connection.ts';
import { createLogger, type Logger } from '../../core/log.ts';
import { createAjv, PluginHost } from '../../core/plugins/host.ts';
import type { ToolContext } from '../../core/plugins/types.ts';
import plugin from './index.ts';

/** A Call over a connection that records every use: the tool must not send anything itself. */
function fakeCall(): { call: Call; touched: string[] } {
  const touched: string[] = [];
  const channel = { 'Unique-ID': '6f1c2a4e-0000-4000-8000-000000000001', 'Caller-Caller-ID-Number': '+15551234567', 'Answer-State': 'answered' };
  const conn = new Proxy({ channel }, { get: (target, key) => (key === 'channel' ? target.channel : void touched.push(String(key))) });
  return { call: new Call(conn as unknown as EslConnection), touched };
}

function toolContext(call: Call | undefined, log: Logger): ToolContext {
  return { call, log, signal: new AbortController().signal, config: loadConfig({}), options: {} };
}

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

describe('hangup_call tool', () => {
  it('ends the Nova step with outcome hangup and tells the model, without touching the call itself', async () => {
    const { call, touched } = fakeCall();
    const { log, lines } = capturingLogger();
    const r = await plugin.run({ reason: 'caller said goodbye' }, toolContext(call, log));
    expect(r).toEqual({ outcome: 'hangup', result: { ending: true, reason: 'caller said goodbye', message: expect.any(String) } });
    expect(touched).toEqual([]);
    expect(call.state).toBe('answered');
    expect(lines).toEqual([expect.objectContaining({ level: 30, reason: 'caller said goodbye' })]);
  });

  it('needs no reason, and no call', async () => {
    const { log } = capturingLogger();
    const r = await plugin.run({}, toolContext(undefined, log));
    expect(r).toEqual({ outcome: 'hangup', result: { ending: true, message: expect.any(String) } });
  });

  it.each([
    ['control characters and line breaks become spaces', 'done\r\n\u0000now\u200b ', 'done now'],
    ['long reasons are cut', 'x'.repeat(1000), 'x'.repeat(200)],
    ['whitespace only means none', ' \n\t', undefined],
  ])('the reason is data: %s', async (_name, reason, expected) => {
    const { log } = capturingLogger();
    const { result } = await plugin.run({ reason }, toolContext(undefined, log));
    expect((result as { reason?: string }).reason).toBe(expected);
  });
});

describe('hangup_call manifest', () => {
  it('the input schema compiles and rejects a bad input', () => {
    const validate = createAjv().compile(plugin.meta.schema);
    expect(validate({})).toBe(true);
    expect(validate({ reason: 'caller said goodbye' })).toBe(true);
    expect(validate({ reason: ['bye'] })).toBe(false);
    expect(validate(null)).toBe(false);
  });

  it('loads through the plugin host from plugins/', async () => {
    const host = await PluginHost.load([`${PROJECT_ROOT}/plugins`]);
    const folder = dirname(fileURLToPath(import.meta.url));
    expect(host.problems.filter((p) => p.source === folder)).toEqual([]);
    expect(host.tools.get('hangup_call')).toMatchObject({ source: folder, plugin: { meta: { kind: 'tool', name: 'hangup_call' } } });
  });
});
