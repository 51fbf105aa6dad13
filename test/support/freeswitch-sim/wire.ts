/**
 * ESL wire format as FreeSWITCH 1.11 writes it (see shared/fixtures/esl/*.bin):
 * - event frames: `Content-Length` BEFORE `Content-Type: text/event-<fmt>`, then exactly that many
 *   bytes, no trailing newline after the body;
 * - plain event bodies: `Name: <url-encoded value>\n` lines, then either `\n` or
 *   `Content-Length: N\n\n<body>` (switch_event_serialize);
 * - json event bodies: one object, header order kept, body as `Content-Length` + `_body`;
 * - url encoding passes `%XX` (two upper-case hex digits) through untouched, which is why a value
 *   `b%25` arrives as `b%25` and `caf%E9` as `caf%E9` in plain events.
 */

export type EventFormat = 'plain' | 'json' | 'xml';

/** Ordered header list; FreeSWITCH keeps insertion order and the wire shows it. */
export type HeaderList = Array<[name: string, value: string]>;

const HEX = '0123456789ABCDEF';
/** SWITCH_URL_UNSAFE plus everything outside printable ASCII. */
const UNSAFE = new Set(Array.from('\r\n #%&+:;<=>?@[\\]^`{|}"', (c) => c.charCodeAt(0)));
const ALL_SAFE = /^[^\x00-\x1f\x7f-\uffff #%&+:;<=>?@[\\\]^`{|}"]*$/;

function isUpperHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46));
}

/** switch_url_encode_opt(value, double_encode = false): the encoding of plain event values. */
export function fsUrlEncode(value: string): string {
  if (ALL_SAFE.test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && isUpperHex(bytes[i + 1]) && isUpperHex(bytes[i + 2])) {
      out += '%';
    } else if (b < 0x20 || b > 0x7e || UNSAFE.has(b)) {
      out += '%' + HEX[b >> 4] + HEX[b & 15];
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** switch_event_serialize(event, encode = true). */
export function serializePlain(headers: HeaderList, body: string | undefined): string {
  let out = '';
  for (const [name, value] of headers) out += `${name}: ${fsUrlEncode(value)}\n`;
  if (body !== undefined && body.length > 0) out += `Content-Length: ${Buffer.byteLength(body)}\n\n${body}`;
  else out += '\n';
  return out;
}

// Characters JSON.stringify would escape (quote, backslash, controls, lone surrogates).
const JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const quotedKeys = new Map<string, string>();

function quote(s: string): string {
  return JSON_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function quotedKey(name: string): string {
  let q = quotedKeys.get(name);
  if (q === undefined) {
    q = `${quote(name)}:`;
    if (quotedKeys.size < 10_000) quotedKeys.set(name, q);
  }
  return q;
}

/** switch_event_serialize_json: values are strings, the body is `Content-Length` + `_body`. */
export function serializeJson(headers: HeaderList, body: string | undefined): string {
  let out = '{';
  let first = true;
  for (const [name, value] of headers) {
    out += (first ? '' : ',') + quotedKey(name) + quote(value);
    first = false;
  }
  if (body !== undefined) {
    out += `${first ? '' : ','}"Content-Length":"${Buffer.byteLength(body)}","_body":${JSON.stringify(body)}`;
  }
  return `${out}}`;
}

/** switch_event_xmlize + switch_xml_toxml: header values url-encoded inside XML text. */
export function serializeXml(headers: HeaderList, body: string | undefined): string {
  let out = '<event>\n  <headers>\n';
  for (const [name, value] of headers) out += `    <${name}>${xmlEscape(fsUrlEncode(value))}</${name}>\n`;
  out += '  </headers>\n';
  if (body !== undefined && body.length > 0) {
    out += `  <Content-Length>${Buffer.byteLength(body)}</Content-Length>\n  <body>${xmlEscape(body)}</body>\n`;
  }
  out += '</event>';
  return out;
}

export function serializeEventBody(format: EventFormat, headers: HeaderList, body: string | undefined): string {
  if (format === 'json') return serializeJson(headers, body);
  if (format === 'xml') return serializeXml(headers, body);
  return serializePlain(headers, body);
}

/** The outer frame of an event: Content-Length first, as captured. */
export function eventFrame(format: EventFormat, serializedBody: string): string {
  return `Content-Length: ${Buffer.byteLength(serializedBody)}\nContent-Type: text/event-${format}\n\n${serializedBody}`;
}

export function authRequestFrame(): string {
  return 'Content-Type: auth/request\n\n';
}

export function commandReplyFrame(replyText: string, extraHeaders: HeaderList = []): string {
  let out = `Content-Type: command/reply\nReply-Text: ${replyText}\n`;
  for (const [n, v] of extraHeaders) out += `${n}: ${v}\n`;
  return out + '\n';
}

export function apiResponseFrame(body: string): string {
  return `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`;
}

export const GOODBYE_TEXT = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

/** send_disconnect(): with a controlled session it names the session and says `disconnect`. */
export function disconnectNoticeFrame(message: string = GOODBYE_TEXT, sessionUuid?: string): string {
  const len = Buffer.byteLength(message);
  if (sessionUuid) {
    return `Content-Type: text/disconnect-notice\nControlled-Session-UUID: ${sessionUuid}\nContent-Disposition: disconnect\nContent-Length: ${len}\n\n${message}`;
  }
  return `Content-Type: text/disconnect-notice\nContent-Length: ${len}\n\n${message}`;
}

/** The notice a lingering session socket gets when its channel goes down (04-outbound.bin). */
export function lingerNoticeFrame(sessionUuid: string, channelName: string, lingerTime: number): string {
  return (
    'Content-Type: text/disconnect-notice\n' +
    `Controlled-Session-UUID: ${sessionUuid}\n` +
    'Content-Disposition: linger\n' +
    `Channel-Name: ${channelName}\n` +
    `Linger-Time: ${lingerTime}\n` +
    'Content-Length: 0\n\n'
  );
}
