import { describe, expect, it } from 'vitest';
import { captureFrames } from './captures.ts';
import { CommandReader } from './command-reader.ts';
import { apiResponseFrame, eventFrame, fsUrlEncode, serializeJson, serializePlain, serializeXml, type HeaderList } from './wire.ts';

describe('plain event encoding (switch_url_encode without double encoding)', () => {
  it.each([
    ['100% a%zz b%25 café', '100%25%20a%25zz%20b%25%20caf%C3%A9'],
    ['caf%E9', 'caf%E9'],
    ['Mon, 23 Nov 2026 00:26:09 GMT', 'Mon,%2023%20Nov%202026%2000%3A26%3A09%20GMT'],
    ['fd00::2', 'fd00%3A%3A2'],
    ['"Outbound Call" <7000>', '%22Outbound%20Call%22%20%3C7000%3E'],
    ["{origination_uuid=x,sb_note='a b'}loopback/7000 &park()", "%7Borigination_uuid%3Dx,sb_note%3D'a%20b'%7Dloopback/7000%20%26park()"],
    ['+OK\n', '%2BOK%0A'],
    ['lower %e9 is not a pass-through', 'lower%20%25e9%20is%20not%20a%20pass-through'],
    ['tone_stream://%(300,0,440)', 'tone_stream%3A//%25(300,0,440)'],
  ])('%j → %j', (value, wire) => {
    expect(fsUrlEncode(value)).toBe(wire);
  });

  it('encodes the captured values byte for byte (03-events-plain.bin)', () => {
    const plain = captureFrames('03-events-plain.bin')
      .filter((f) => f.headers['Content-Type'] === 'text/event-plain')
      .map((f) => (f.body as Buffer).toString('utf8'));
    const create = plain.find((b) => b.startsWith('Event-Name: CHANNEL_CREATE')) as string;
    expect(create).toContain(`variable_sb_note: ${fsUrlEncode('100% a%zz b%25 café')}\n`);
    expect(create).toContain(`variable_sb_raw_escape: ${fsUrlEncode('caf%E9')}\n`);
  });
});

describe('event frames', () => {
  const headers: HeaderList = [
    ['Event-Name', 'BACKGROUND_JOB'],
    ['Job-Command-Arg', 'x y'],
  ];

  it('put Content-Length before Content-Type and count bytes, not characters', () => {
    const body = serializeJson([['Event-Name', 'CUSTOM'], ['x', 'café ☎']], undefined);
    const frame = eventFrame('json', body);
    expect(frame.startsWith(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-json\n\n`)).toBe(true);
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
    expect(frame.endsWith('}')).toBe(true);
  });

  it('plain bodies end with a blank line, or carry their own Content-Length and body like BACKGROUND_JOB', () => {
    expect(serializePlain(headers, undefined)).toBe('Event-Name: BACKGROUND_JOB\nJob-Command-Arg: x%20y\n\n');
    expect(serializePlain(headers, '+OK\n')).toBe('Event-Name: BACKGROUND_JOB\nJob-Command-Arg: x%20y\nContent-Length: 4\n\n+OK\n');
  });

  it('json bodies add Content-Length and _body last, as 02-api-bgapi.bin shows', () => {
    const captured = captureFrames('02-api-bgapi.bin').find((f) => f.headers['Content-Type'] === 'text/event-json') as { body: Buffer };
    const keys = Object.keys(JSON.parse(captured.body.toString('utf8')) as object);
    expect(keys.slice(-2)).toEqual(['Content-Length', '_body']);
    expect(serializeJson(headers, '+OK\n')).toBe('{"Event-Name":"BACKGROUND_JOB","Job-Command-Arg":"x y","Content-Length":"4","_body":"+OK\\n"}');
  });

  it('xml bodies (event xml) url-encode values inside <headers> like switch_event_xmlize', () => {
    expect(serializeXml([['Event-Name', 'CUSTOM'], ['x', 'a b<c']], 'hi')).toBe(
      '<event>\n  <headers>\n    <Event-Name>CUSTOM</Event-Name>\n    <x>a%20b%3Cc</x>\n  </headers>\n  <Content-Length>2</Content-Length>\n  <body>hi</body>\n</event>',
    );
  });

  it('api/response frames match the captured ones', () => {
    const captured = captureFrames('02-api-bgapi.bin').filter((f) => f.headers['Content-Type'] === 'api/response');
    expect(apiResponseFrame('-ERR nosuchcmd Command not found!\n')).toBe((captured[1] as { raw: Buffer }).raw.toString('utf8'));
    expect(apiResponseFrame('-ERR No such channel!\n')).toBe((captured[2] as { raw: Buffer }).raw.toString('utf8'));
  });
});

describe('CommandReader (what clients send)', () => {
  it('splits pipelined commands and keeps their bytes', () => {
    const r = new CommandReader();
    const out = r.push(Buffer.from('auth ClueCon\n\napi status\n\n'));
    expect(out.map((c) => c.line)).toEqual(['auth ClueCon', 'api status']);
    expect(out[1]?.raw.toString()).toBe('api status\n\n');
  });

  it('reads a sendmsg whose argument is a content-length body, across chunks, UTF-8 included', () => {
    const r = new CommandReader();
    const arg = 'Hallo, wie geht’s?\nZweite Zeile';
    const msg = `sendmsg\ncall-command: execute\nexecute-app-name: speak\ncontent-type: text/plain\ncontent-length: ${Buffer.byteLength(arg)}\n\n${arg}api status\n\n`;
    const bytes = Buffer.from(msg);
    const got = [...r.push(bytes.subarray(0, 70)), ...r.push(bytes.subarray(70, 100)), ...r.push(bytes.subarray(100))];
    expect(got).toHaveLength(2);
    expect(got[0]?.headers['execute-app-name']).toBe('speak');
    expect(got[0]?.body).toBe(arg);
    expect(got[1]?.line).toBe('api status');
  });

  it('accepts CRLF, skips stray blank lines, ignores header lines without a colon', () => {
    const r = new CommandReader();
    const out = r.push(Buffer.from('\r\n\nsendmsg abc\r\ncall-command: hangup\r\nnonsense\r\n\r\n'));
    expect(out).toHaveLength(1);
    expect(out[0]?.line).toBe('sendmsg abc');
    expect(out[0]?.headers).toEqual({ 'call-command': 'hangup' });
  });

  it('never throws on garbage', () => {
    const r = new CommandReader();
    expect(() => r.push(Buffer.from([0xff, 0x00, 0x0a, 0x0a, 0xc3, 0x28, 0x0a, 0x0a]))).not.toThrow();
    expect(r.push(Buffer.from('x\ncontent-length: -5\n\n')).map((c) => c.body)).toEqual([undefined]);
  });
});
