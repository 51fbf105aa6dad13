import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../core/config.ts';
import { Call } from '../../core/esl/index.ts';
import type { EslConnection } from '../../core/esl/connection.ts';
import { createLogger, type Logger } from '../../core/log.ts';
import { createAjv, PluginHost } from '../../core/plugins/host.ts';
import type { ToolContext } from '../../core/plugins/types.ts';
import { parseCsv, parseDirectory, phoneDigits, samePhone } from './directory.ts';
import plugin from './index.ts';

let flowsDir: string;

beforeAll(() => {
  flowsDir = mkdtempSync(join(tmpdir(), 'sb-lookup-'));
  writeFileSync(
    join(flowsDir, 'contacts.csv'),
    '\uFEFFphone,name,company,notes\r\n' +
      '+1 (555) 123-4567,Ada Lovelace,"Analytical Engines, Ltd","Prefers ""Countess""; call back after 5"\r\n' +
      '\r\n' +
      '1001 , Front Desk ,ACME,internal\r\n' +
      '"+49 30 1234-5678",Grace Hopper,US Navy,"line one\r\nline two"\r\n',
  );
  writeFileSync(
    join(flowsDir, 'contacts.json'),
    JSON.stringify([
      { phone: '+44 20 7946 0958', name: 'Alan Turing', company: 'Bletchley Park', tags: ['vip'] },
      { phone: 4930987654, name: 'Konrad Zuse', company: 'Zuse KG' },
    ]),
  );
  writeFileSync(join(flowsDir, 'mobiles.csv'), 'Name,Mobile\nEdsger Dijkstra,+31 20 555 0101\n');
  writeFileSync(join(flowsDir, 'broken.csv'), 'phone,name\n5551234567,"Unclosed\n');
  writeFileSync(join(flowsDir, 'object.json'), '{"phone": "5551234567"}');
  writeFileSync(join(flowsDir, 'no-phone.csv'), 'name,company\nAda,ACME\n');
});

afterAll(() => rmSync(flowsDir, { recursive: true, force: true }));

function fakeCall(callerNumber: string): Call {
  const channel = { 'Unique-ID': '6f1c2a4e-0000-4000-8000-000000000003', 'Caller-Caller-ID-Number': callerNumber, 'Answer-State': 'answered' };
  return new Call({ channel } as unknown as EslConnection);
}

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

function toolContext(options: Record<string, unknown>, over: { call?: Call; log?: Logger } = {}): ToolContext {
  return { call: over.call, log: over.log ?? capturingLogger().log, signal: new AbortController().signal, config: { ...loadConfig({}), flowsDir }, options };
}

const ADA = { phone: '+1 (555) 123-4567', name: 'Ada Lovelace', company: 'Analytical Engines, Ltd', notes: 'Prefers "Countess"; call back after 5' };

describe('lookup_caller tool', () => {
  it('finds the caller by the number they call from, quoted fields with commas and doubled quotes intact', async () => {
    const r = await plugin.run({}, toolContext({ file: 'contacts.csv' }, { call: fakeCall('+15551234567') }));
    expect(r).toEqual({ result: { found: true, phone: '15551234567', record: ADA } });
  });

  it.each([
    ['the same number, formatted', '(555) 123-4567', 'Ada Lovelace'],
    ['an international prefix: compared by the last 10 digits', '0015551234567', 'Ada Lovelace'],
    ['an extension: compared exactly', '1001', 'Front Desk'],
    ['a quoted number with a multi-line record', '+493012345678', 'Grace Hopper'],
  ])('finds a number the model gives: %s', async (_name, phone, name) => {
    const { result } = await plugin.run({ phone }, toolContext({ file: 'contacts.csv' }, { call: fakeCall('+15550000000') }));
    expect(result).toMatchObject({ found: true, record: { name } });
  });

  it('keeps line breaks inside quoted fields and trims unquoted ones', async () => {
    const { result } = await plugin.run({ phone: '1001' }, toolContext({ file: 'contacts.csv' }));
    expect(result).toMatchObject({ record: { phone: '1001', name: 'Front Desk' } });
    const grace = await plugin.run({ phone: '+49 30 1234 5678' }, toolContext({ file: 'contacts.csv' }));
    expect(grace.result).toMatchObject({ record: { notes: 'line one\r\nline two' } });
  });

  it.each([
    ['a short number is not matched by its tail', '21001'],
    ['an unknown number', '+15559999999'],
  ])('answers found: false for %s', async (_name, phone) => {
    const r = await plugin.run({ phone }, toolContext({ file: 'contacts.csv' }));
    expect(r).toEqual({ result: { found: false, phone: phoneDigits(phone) } });
  });

  it('reads a JSON array of objects, by an absolute path, with numbers as phone values', async () => {
    const file = join(flowsDir, 'contacts.json');
    expect((await plugin.run({ phone: '+44 20 7946 0958' }, toolContext({ file }))).result).toEqual({
      found: true,
      phone: '442079460958',
      record: { phone: '+44 20 7946 0958', name: 'Alan Turing', company: 'Bletchley Park', tags: ['vip'] },
    });
    expect((await plugin.run({ phone: '+49 30 987654' }, toolContext({ file }))).result).toMatchObject({ found: true, record: { name: 'Konrad Zuse' } });
  });

  it('matches on another column when the flow names one, whatever its case', async () => {
    const r = await plugin.run({ phone: '+31205550101' }, toolContext({ file: 'mobiles.csv', column: 'mobile' }));
    expect(r.result).toMatchObject({ found: true, record: { Name: 'Edsger Dijkstra' } });
  });

  it.each([
    ['a phone that is not a number', { phone: 'my office' }, undefined, 'is not a phone number'],
    ['a withheld caller number', {}, 'anonymous', 'not available'],
    ['no call and no phone', {}, undefined, 'not available'],
  ])('answers an error the model can read for %s', async (_name, input, caller, error) => {
    const { log, lines } = capturingLogger();
    const r = await plugin.run(input, toolContext({ file: 'contacts.csv' }, { log, ...(caller ? { call: fakeCall(caller) } : {}) }));
    expect(r).toEqual({ result: { error: expect.stringContaining(error) } });
    expect(lines).toEqual([]);
  });

  it.each([
    ['a missing file', { file: 'nowhere.csv' }, 'ENOENT'],
    ['a directory', { file: '.' }, 'not a file'],
    ['an unclosed quote', { file: 'broken.csv' }, 'line 2 is never closed'],
    ['JSON that is not an array', { file: 'object.json' }, 'array of objects'],
    ['no phone column', { file: 'no-phone.csv' }, undefined],
    ['no file option', {}, undefined],
  ])('answers an error and logs one line, without throwing, for %s', async (_name, options, logged) => {
    const { log, lines } = capturingLogger();
    const r = await plugin.run({ phone: '5551234567' }, toolContext(options, { log }));
    expect(r).toEqual({ result: { error: 'the contact directory is not available right now' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40 });
    if (logged) expect(String(lines[0]?.err)).toContain(logged);
    expect(JSON.stringify(r)).not.toContain(flowsDir);
  });

  it('parses a file once, and again when its modification time changes', async () => {
    const file = join(flowsDir, 'cached.csv');
    writeFileSync(file, 'phone,name\n5551234567,Before\n');
    const then = new Date(Math.floor(statSync(file).mtimeMs / 1000) * 1000 - 60_000);
    utimesSync(file, then, then);
    const ctx = toolContext({ file: 'cached.csv' });
    expect((await plugin.run({ phone: '5551234567' }, ctx)).result).toMatchObject({ record: { name: 'Before' } });

    // Same size and mtime: the parse in the cache is kept (the file is not read again).
    writeFileSync(file, 'phone,name\n5551234567,Sneaky\n');
    utimesSync(file, then, then);
    expect((await plugin.run({ phone: '5551234567' }, ctx)).result).toMatchObject({ record: { name: 'Before' } });

    utimesSync(file, then, new Date(then.getTime() + 5000));
    expect((await plugin.run({ phone: '5551234567' }, ctx)).result).toMatchObject({ record: { name: 'Sneaky' } });
  });
});

describe('lookup_caller directory parsing', () => {
  it.each([
    ['plain', 'a,b\n1,2\n', [['a', 'b'], ['1', '2']]],
    ['quoted commas and doubled quotes', 'a,"b, ""c"""\n', [['a', 'b, "c"']]],
    ['an empty quoted field and empty fields', '"",x,,\n', [['', 'x', '', '']]],
    ['a line break inside quotes', '"one\ntwo",3', [['one\ntwo', '3']]],
    ['CRLF, blank lines, no final newline', 'a\r\n\r\nb', [['a'], ['b']]],
    ['spaces around quoted fields', 'a , "b" ,c', [['a', 'b', 'c']]],
    ['a quote inside an unquoted field stays', 'O"Brien,x', [['O"Brien', 'x']]],
  ])('parseCsv: %s', (_name, text, rows) => {
    expect(parseCsv(text)).toEqual(rows);
  });

  it('parseCsv refuses an unclosed quote, naming its line', () => {
    expect(() => parseCsv('a\n"b\nc')).toThrow('line 2');
  });

  it('short rows get empty fields; columns without a header are dropped', () => {
    expect(parseDirectory('phone,name,\n123,Ada,extra\n456\n')).toEqual([{ phone: '123', name: 'Ada' }, { phone: '456', name: '' }]);
  });

  it.each([
    ['+1 (555) 123-4567', '15551234567'],
    ['555.123.4567', '5551234567'],
    ['1001', '1001'],
    ['anonymous', undefined],
    ['', undefined],
    ['1', undefined],
    ['sip:1001@example.com', undefined],
  ])('phoneDigits(%j) → %j', (text, digits) => {
    expect(phoneDigits(text)).toBe(digits);
  });

  it('samePhone compares the last 10 digits only when both have 10', () => {
    expect(samePhone('15551234567', '5551234567')).toBe(true);
    expect(samePhone('4915551234567', '15551234567')).toBe(true);
    expect(samePhone('1001', '21001')).toBe(false);
    expect(samePhone('551234567', '5551234567')).toBe(false);
  });
});

describe('lookup_caller manifest', () => {
  it('the input schema compiles and rejects a bad input', () => {
    const validate = createAjv().compile(plugin.meta.schema);
    expect(validate({})).toBe(true);
    expect(validate({ phone: '+15551234567' })).toBe(true);
    expect(validate({ phone: 15551234567 })).toBe(false);
  });

  it('the options schema needs a file and fills in the column', () => {
    const validate = createAjv().compile(plugin.meta.optionsSchema ?? {});
    const options: Record<string, unknown> = { file: 'contacts.csv' };
    expect(validate(options)).toBe(true);
    expect(options.column).toBe('phone');
    expect(validate({})).toBe(false);
    expect(validate({ file: 'contacts.csv', colum: 'mobile' })).toBe(false);
  });

  it('loads through the plugin host from plugins/', async () => {
    const host = await PluginHost.load([`${PROJECT_ROOT}/plugins`]);
    const folder = dirname(fileURLToPath(import.meta.url));
    expect(host.problems.filter((p) => p.source === folder)).toEqual([]);
    expect(host.tools.get('lookup_caller')).toMatchObject({ source: folder, plugin: { meta: { kind: 'tool', name: 'lookup_caller', timeoutMs: 2000 } } });
  });
});
