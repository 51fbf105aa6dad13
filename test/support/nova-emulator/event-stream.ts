/**
 * AWS event-stream framing, written independently of @smithy/eventstream-codec so that the
 * emulator checks the SDK's frames rather than trusting the SDK's own codec.
 *
 * A message is:
 *   prelude  total length (uint32 BE), headers length (uint32 BE), prelude CRC32 (uint32 BE)
 *   headers  repeated: name length (uint8), name (utf8), type tag (uint8), value
 *   payload  total - headers - 16 bytes
 *   CRC32    of everything before it (uint32 BE)
 */
import * as zlib from 'node:zlib';

export const PRELUDE_BYTES = 12;
export const OVERHEAD_BYTES = 16;
/** The service's limit is far below this; it only stops a corrupt length from allocating gigabytes. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/* ------------------------------------------------------------------ CRC32 */

const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function tableCrc32(data: Uint8Array, value = 0): number {
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  return ~c >>> 0;
}

/** CRC-32 (IEEE), continuing from `value`. Uses node:zlib's native crc32 where the runtime has it. */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (data, value = 0) => zlib.crc32(data, value) >>> 0
    : tableCrc32;

/* ---------------------------------------------------------------- headers */

export type HeaderValue =
  | { type: 'boolean'; value: boolean }
  | { type: 'byte'; value: number }
  | { type: 'short'; value: number }
  | { type: 'integer'; value: number }
  | { type: 'long'; value: bigint }
  | { type: 'binary'; value: Uint8Array }
  | { type: 'string'; value: string }
  | { type: 'timestamp'; value: Date }
  | { type: 'uuid'; value: string };

export type Headers = Record<string, HeaderValue>;

export interface Message {
  headers: Headers;
  payload: Buffer;
}

export type FrameErrorCode = 'too-short' | 'length-mismatch' | 'too-large' | 'prelude-crc' | 'message-crc' | 'bad-header';

export class EventStreamError extends Error {
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string) {
    super(message);
    this.name = 'EventStreamError';
    this.code = code;
  }
}

const TAG = { boolTrue: 0, boolFalse: 1, byte: 2, short: 3, integer: 4, long: 5, binary: 6, string: 7, timestamp: 8, uuid: 9 } as const;

function headerSize(name: string, h: HeaderValue): number {
  const nameBytes = Buffer.byteLength(name);
  if (nameBytes > 255) throw new EventStreamError('bad-header', `header name longer than 255 bytes: ${name}`);
  const base = 1 + nameBytes + 1;
  switch (h.type) {
    case 'boolean': return base;
    case 'byte': return base + 1;
    case 'short': return base + 2;
    case 'integer': return base + 4;
    case 'long': case 'timestamp': return base + 8;
    case 'binary': return base + 2 + h.value.length;
    case 'string': return base + 2 + Buffer.byteLength(h.value);
    case 'uuid': return base + 16;
  }
}

function writeHeader(out: Buffer, pos: number, name: string, h: HeaderValue): number {
  const n = out.write(name, pos + 1, 'utf8');
  out[pos] = n;
  pos += 1 + n;
  switch (h.type) {
    case 'boolean': out[pos++] = h.value ? TAG.boolTrue : TAG.boolFalse; return pos;
    case 'byte': out[pos++] = TAG.byte; out.writeInt8(h.value, pos); return pos + 1;
    case 'short': out[pos++] = TAG.short; out.writeInt16BE(h.value, pos); return pos + 2;
    case 'integer': out[pos++] = TAG.integer; out.writeInt32BE(h.value, pos); return pos + 4;
    case 'long': out[pos++] = TAG.long; out.writeBigInt64BE(h.value, pos); return pos + 8;
    case 'timestamp': out[pos++] = TAG.timestamp; out.writeBigInt64BE(BigInt(h.value.getTime()), pos); return pos + 8;
    case 'binary': {
      if (h.value.length > 0x7fff) throw new EventStreamError('bad-header', `binary header ${name} too long`);
      out[pos++] = TAG.binary; out.writeUInt16BE(h.value.length, pos); out.set(h.value, pos + 2);
      return pos + 2 + h.value.length;
    }
    case 'string': {
      out[pos++] = TAG.string;
      const len = out.write(h.value, pos + 2, 'utf8');
      if (len > 0x7fff) throw new EventStreamError('bad-header', `string header ${name} too long`);
      out.writeUInt16BE(len, pos);
      return pos + 2 + len;
    }
    case 'uuid': {
      const hex = h.value.replace(/-/g, '');
      if (!/^[0-9a-f]{32}$/i.test(hex)) throw new EventStreamError('bad-header', `invalid uuid header ${name}: ${h.value}`);
      out[pos++] = TAG.uuid; out.write(hex, pos, 'hex');
      return pos + 16;
    }
  }
}

/** Serialise headers alone (used to precompute the constant header block of output events). */
export function encodeHeaders(headers: Headers): Buffer {
  let size = 0;
  for (const [name, h] of Object.entries(headers)) size += headerSize(name, h);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const [name, h] of Object.entries(headers)) pos = writeHeader(out, pos, name, h);
  return out;
}

function truncated(what: string): EventStreamError {
  return new EventStreamError('bad-header', `header block truncated in ${what}`);
}

/** Where a header's value starts and ends, given the position just after its type tag. */
function valueEnd(buf: Buffer, tag: number, pos: number, name: string): number {
  let end: number;
  switch (tag) {
    case TAG.boolTrue: case TAG.boolFalse: end = pos; break;
    case TAG.byte: end = pos + 1; break;
    case TAG.short: end = pos + 2; break;
    case TAG.integer: end = pos + 4; break;
    case TAG.long: case TAG.timestamp: end = pos + 8; break;
    case TAG.uuid: end = pos + 16; break;
    case TAG.binary: case TAG.string:
      if (pos + 2 > buf.length) throw truncated(name);
      end = pos + 2 + buf.readUInt16BE(pos);
      break;
    default: throw new EventStreamError('bad-header', `unknown header type tag ${tag} for header ${name}`);
  }
  if (end > buf.length) throw truncated(name);
  return end;
}

/** Parse a header block. Throws EventStreamError('bad-header') on anything malformed. */
export function decodeHeaders(buf: Buffer): Headers {
  const out: Headers = {};
  let pos = 0;
  while (pos < buf.length) {
    const nameLen = buf[pos++]!;
    if (nameLen === 0) throw new EventStreamError('bad-header', 'empty header name');
    if (pos + nameLen + 1 > buf.length) throw truncated('name');
    const name = buf.toString('utf8', pos, pos + nameLen);
    pos += nameLen;
    const tag = buf[pos++]!;
    const end = valueEnd(buf, tag, pos, name);
    switch (tag) {
      case TAG.boolTrue: out[name] = { type: 'boolean', value: true }; break;
      case TAG.boolFalse: out[name] = { type: 'boolean', value: false }; break;
      case TAG.byte: out[name] = { type: 'byte', value: buf.readInt8(pos) }; break;
      case TAG.short: out[name] = { type: 'short', value: buf.readInt16BE(pos) }; break;
      case TAG.integer: out[name] = { type: 'integer', value: buf.readInt32BE(pos) }; break;
      case TAG.long: out[name] = { type: 'long', value: buf.readBigInt64BE(pos) }; break;
      case TAG.timestamp: out[name] = { type: 'timestamp', value: new Date(Number(buf.readBigInt64BE(pos))) }; break;
      case TAG.binary: out[name] = { type: 'binary', value: buf.subarray(pos + 2, end) }; break;
      case TAG.string: out[name] = { type: 'string', value: buf.toString('utf8', pos + 2, end) }; break;
      default: {
        const hex = buf.toString('hex', pos, end);
        out[name] = { type: 'uuid', value: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
      }
    }
    pos = end;
  }
  return out;
}

export type HeaderType = HeaderValue['type'];
const TYPE_OF_TAG: readonly HeaderType[] = ['boolean', 'boolean', 'byte', 'short', 'integer', 'long', 'binary', 'string', 'timestamp', 'uuid'];

/**
 * The hot-path view of a header block: each header's type, and the value of string headers only,
 * without building values nobody reads (the signed outer frame's :date and :chunk-signature).
 * Same strictness as decodeHeaders.
 */
export function scanHeaders(buf: Buffer): Map<string, { type: HeaderType; text?: string }> {
  const out = new Map<string, { type: HeaderType; text?: string }>();
  let pos = 0;
  while (pos < buf.length) {
    const nameLen = buf[pos++]!;
    if (nameLen === 0) throw new EventStreamError('bad-header', 'empty header name');
    if (pos + nameLen + 1 > buf.length) throw truncated('name');
    const name = buf.toString('latin1', pos, pos + nameLen);
    pos += nameLen;
    const tag = buf[pos++]!;
    const end = valueEnd(buf, tag, pos, name);
    out.set(name, tag === TAG.string ? { type: 'string', text: buf.toString('utf8', pos + 2, end) } : { type: TYPE_OF_TAG[tag]! });
    pos = end;
  }
  return out;
}

/* ---------------------------------------------------------------- messages */

/** Frame a message around an already-encoded header block (the hot path for output events). */
export function encodeWithHeaderBlock(headerBlock: Buffer, payload: Uint8Array | string): Buffer {
  const payloadLen = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const total = OVERHEAD_BYTES + headerBlock.length + payloadLen;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBlock.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  headerBlock.copy(out, PRELUDE_BYTES);
  const at = PRELUDE_BYTES + headerBlock.length;
  if (typeof payload === 'string') out.write(payload, at, 'utf8');
  else out.set(payload, at);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

export function encodeMessage(message: { headers: Headers; payload: Uint8Array | string }): Buffer {
  return encodeWithHeaderBlock(encodeHeaders(message.headers), message.payload);
}

/**
 * Check and split one complete message: length, prelude CRC, message CRC, then the headers.
 * Throws EventStreamError naming what failed. `payload` is a view into `buf`.
 */
export function decodeMessage(buf: Buffer): Message {
  const { headerBlock, payload } = splitMessage(buf);
  return { headers: decodeHeaders(headerBlock), payload };
}

/** decodeMessage without parsing the headers (both CRCs are still checked). */
export function splitMessage(buf: Buffer): { headerBlock: Buffer; payload: Buffer } {
  if (buf.length < OVERHEAD_BYTES) throw new EventStreamError('too-short', `frame of ${buf.length} bytes is shorter than the 16-byte minimum`);
  const total = buf.readUInt32BE(0);
  if (total !== buf.length) throw new EventStreamError('length-mismatch', `frame declares ${total} bytes but ${buf.length} were given`);
  const headersLen = buf.readUInt32BE(4);
  const preludeCrc = buf.readUInt32BE(8);
  const actualPrelude = crc32(buf.subarray(0, 8));
  if (preludeCrc !== actualPrelude) {
    throw new EventStreamError('prelude-crc', `prelude CRC mismatch: frame says ${preludeCrc.toString(16)}, computed ${actualPrelude.toString(16)}`);
  }
  if (headersLen > total - OVERHEAD_BYTES) throw new EventStreamError('length-mismatch', `headers length ${headersLen} exceeds frame of ${total} bytes`);
  const messageCrc = buf.readUInt32BE(total - 4);
  const actualMessage = crc32(buf.subarray(0, total - 4));
  if (messageCrc !== actualMessage) {
    throw new EventStreamError('message-crc', `message CRC mismatch: frame says ${messageCrc.toString(16)}, computed ${actualMessage.toString(16)}`);
  }
  return { headerBlock: buf.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headersLen), payload: buf.subarray(PRELUDE_BYTES + headersLen, total - 4) };
}

/**
 * Reassembles frames from arbitrarily split chunks (HTTP/2 DATA frames do not align with
 * event-stream messages: the SDK often packs several messages into one DATA frame, and a large
 * message can span several). Linear in the bytes received: partial frames are gathered as a list
 * and joined once. It only cuts frames; checking them is decodeMessage's job.
 */
export class FrameSplitter {
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private need = 0;

  /** Feed a chunk; returns the complete raw frames it finished (often zero or one). */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let buf = chunk;
    if (this.partsBytes > 0) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      if (this.need === 0 && this.partsBytes >= 4) this.need = this.declaredLength(Buffer.concat(this.parts, 4));
      if (this.need === 0 || this.partsBytes < this.need) return frames;
      buf = Buffer.concat(this.parts, this.partsBytes);
      this.parts = [];
      this.partsBytes = 0;
      this.need = 0;
    }
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = this.declaredLength(buf.subarray(pos, pos + 4));
      if (buf.length - pos < len) break;
      frames.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.parts = [rest];
      this.partsBytes = rest.length;
      this.need = rest.length >= 4 ? this.declaredLength(rest) : 0;
    }
    return frames;
  }

  /** Bytes of an unfinished frame held back (non-zero at end of input means a truncated frame). */
  get pendingBytes(): number {
    return this.partsBytes;
  }

  private declaredLength(prefix: Buffer): number {
    const len = prefix.readUInt32BE(0);
    if (len < OVERHEAD_BYTES) throw new EventStreamError('too-short', `frame declares ${len} bytes, less than the 16-byte minimum`);
    if (len > MAX_MESSAGE_BYTES) throw new EventStreamError('too-large', `frame declares ${len} bytes, more than ${MAX_MESSAGE_BYTES}`);
    return len;
  }
}
