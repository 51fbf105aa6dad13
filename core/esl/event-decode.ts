import { EslEvent, type EventHeaders } from './event.ts';
import { ContentType, type Frame } from './frame.ts';
import { parseHeaderBlock } from './frame-parser.ts';
import { decodeHeaderValue } from './url-decode.ts';

/**
 * Turns an event frame (json, plain or xml) into an EslEvent. Throws a plain Error with a
 * readable message when the body is malformed; callers log it and carry on.
 */
export function decodeEvent(frame: Frame): EslEvent {
  const body = frame.body ?? '';
  switch (frame.headers['Content-Type']) {
    case ContentType.eventJson:
      return fromJson(body);
    case ContentType.eventPlain:
      return fromPlain(body);
    case ContentType.eventXml:
      return fromXml(body);
    default:
      throw new Error(`not an event frame: Content-Type ${frame.headers['Content-Type'] ?? '(none)'}`);
  }
}

function fromJson(body: string): EslEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new Error(`event-json body is not JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('event-json body is not a JSON object');
  const headers = parsed as EventHeaders;
  const inner = headers._body;
  return new EslEvent(headers, typeof inner === 'string' ? inner : undefined);
}

function fromPlain(body: string): EslEvent {
  const split = body.indexOf('\n\n');
  const headers = parseHeaderBlock(split === -1 ? body : body.slice(0, split));
  if (headers['Event-Name'] === undefined) throw new Error('event-plain body has no Event-Name header');
  let inner: string | undefined;
  const cl = headers['Content-Length'];
  if (cl !== undefined && split !== -1) {
    const rest = body.slice(split + 2);
    const n = Number(cl);
    inner = Buffer.byteLength(rest) === n ? rest : Buffer.from(rest).subarray(0, n).toString('utf8');
  }
  return new EslEvent(headers, inner);
}

const XML_ENTITY = /&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const XML_HEADER = /<([A-Za-z_][\w.:-]*)>([^<]*)<\/\1>/g;

function fromXml(body: string): EslEvent {
  const headersBlock = /<headers>([\s\S]*?)<\/headers>/.exec(body);
  if (!/^\s*<event>/.test(body) || headersBlock === null) throw new Error('event-xml body has no <event><headers> element');
  const headers: Record<string, string> = {};
  for (const m of (headersBlock[1] ?? '').matchAll(XML_HEADER)) {
    headers[m[1] as string] = decodeHeaderValue(unescapeXml(m[2] ?? ''));
  }
  if (headers['Event-Name'] === undefined) throw new Error('event-xml body has no Event-Name header');
  const bodyMatch = /<body>([\s\S]*?)<\/body>/.exec(body);
  return new EslEvent(headers, bodyMatch ? unescapeXml(bodyMatch[1] ?? '') : undefined);
}

function unescapeXml(text: string): string {
  if (text.indexOf('&') === -1) return text;
  return text.replace(XML_ENTITY, (_, e: string) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default: {
        const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code <= 0x10ffff ? String.fromCodePoint(code) : '';
      }
    }
  });
}
