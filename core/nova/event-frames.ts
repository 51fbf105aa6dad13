/**
 * The AWS event-stream frames of Bedrock's bidirectional stream, for the two messages that make
 * up nearly all of its traffic: the `chunk` event (`{"bytes":"<base64>"}`, one per Nova event in
 * either direction) and the signed envelope around each request message. Written for one
 * allocation and native CRC-32/base64 per frame; everything rarer goes through the SDK's own
 * codec (stream-serde.ts).
 *
 * A frame: total length (u32 BE), headers length (u32 BE), CRC-32 of those 8 bytes, headers
 * (name length u8, name, type u8, value), payload, CRC-32 of everything before it.
 */
import { crc32 } from 'node:zlib';

const PRELUDE = 12;
const TRAILER = 4;
/** The service's frames are far smaller; this only stops a corrupt length from allocating gigabytes. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const STRING = 7;
const TIMESTAMP = 8;
const BINARY = 6;
/** Value sizes of the fixed-size header types, by type tag (0/1 booleans carry none). */
const FIXED_SIZE = [0, 0, 1, 2, 4, 8, -1, -1, 8, 16];

function stringHeaders(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts = headers.map(([name, value]) => {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 3);
    h[0] = n.length;
    n.copy(h, 1);
    h[1 + n.length] = STRING;
    h.writeUInt16BE(v.length, 2 + n.length);
    return Buffer.concat([h, v]);
  });
  return Buffer.concat(parts);
}

/** The headers the SDK puts on every request event, in its order. */
const CHUNK_EVENT_HEADERS = stringHeaders([[':event-type', 'chunk'], [':message-type', 'event'], [':content-type', 'application/json']]);
const BYTES_OPEN = Buffer.from('{"bytes":"', 'latin1');
const BYTES_CLOSE = Buffer.from('"}', 'latin1');
const BACKSLASH = 0x5c;

/** Writes prelude and trailer CRCs into a frame whose lengths, headers and payload are in place. */
function seal(frame: Buffer): Buffer {
  const preludeCrc = crc32(frame.subarray(0, 8));
  frame.writeUInt32BE(preludeCrc, 8);
  frame.writeUInt32BE(crc32(frame.subarray(8, frame.length - TRAILER), preludeCrc), frame.length - TRAILER);
  return frame;
}

function frameOf(headersLength: number, payloadLength: number): Buffer {
  const frame = Buffer.allocUnsafe(PRELUDE + headersLength + payloadLength + TRAILER);
  frame.writeUInt32BE(frame.length, 0);
  frame.writeUInt32BE(headersLength, 4);
  return frame;
}

/** A request `chunk` event carrying `bytes` (one Nova input event's JSON), as the SDK's serializer writes it. */
export function chunkEventFrame(bytes: Uint8Array): Buffer {
  const b64 = asBuffer(bytes).toString('base64');
  const frame = frameOf(CHUNK_EVENT_HEADERS.length, BYTES_OPEN.length + b64.length + BYTES_CLOSE.length);
  let at = PRELUDE + CHUNK_EVENT_HEADERS.copy(frame, PRELUDE);
  at += BYTES_OPEN.copy(frame, at);
  at += frame.write(b64, at, 'latin1');
  BYTES_CLOSE.copy(frame, at);
  return seal(frame);
}

const DATE_NAME = Buffer.from(':date', 'latin1');
const SIGNATURE_NAME = Buffer.from(':chunk-signature', 'latin1');
/** The `:date` header alone, as SigV4 event signing hashes it: the signed envelope's first header. */
export const DATE_HEADER_BYTES = 1 + DATE_NAME.length + 1 + 8;
const SIGNATURE_HEADER_BYTES = 1 + SIGNATURE_NAME.length + 1 + 2 + 32;

/** The `:date` header (a timestamp: ms since the epoch, i64 BE). */
export function dateHeader(ms: number): Buffer {
  const h = Buffer.allocUnsafe(DATE_HEADER_BYTES);
  h[0] = DATE_NAME.length;
  DATE_NAME.copy(h, 1);
  h[1 + DATE_NAME.length] = TIMESTAMP;
  h.writeBigInt64BE(BigInt(ms), 2 + DATE_NAME.length);
  return h;
}

/** The signed envelope: `:date`, `:chunk-signature` (32 bytes from the hex signature), the inner frame as payload. */
export function signedFrame(date: Buffer, signatureHex: string, inner: Uint8Array): Buffer {
  const frame = frameOf(DATE_HEADER_BYTES + SIGNATURE_HEADER_BYTES, inner.length);
  let at = PRELUDE + date.copy(frame, PRELUDE);
  frame[at++] = SIGNATURE_NAME.length;
  at += SIGNATURE_NAME.copy(frame, at);
  frame[at++] = BINARY;
  frame.writeUInt16BE(32, at);
  at += 2;
  if (frame.write(signatureHex, at, 'hex') !== 32) throw new Error(`not a SHA-256 signature: ${signatureHex}`);
  frame.set(inner, at + 32);
  return seal(frame);
}

/**
 * Splits a byte stream into whole frames, checking lengths and both CRCs; a bad frame throws
 * (the stream cannot be resynchronised after one).
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the frame being gathered, once its first 4 bytes are in (0 before). */
  private pendingTotal = 0;

  /** The whole frames completed by `chunk`, in order. */
  push(chunk: Uint8Array): Buffer[] {
    let buf = asBuffer(chunk);
    if (this.pendingBytes > 0) {
      this.pending.push(buf);
      this.pendingBytes += buf.length;
      if (this.pendingBytes < this.needed()) return [];
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.pendingTotal = 0;
    }
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const total = buf.readUInt32BE(at);
      if (total < PRELUDE + TRAILER || total > MAX_FRAME_BYTES) throw new Error(`event-stream frame of ${total} bytes`);
      if (buf.length - at < total) break;
      frames.push(checked(buf.subarray(at, at + total)));
      at += total;
    }
    if (at < buf.length) {
      this.pending.push(buf.subarray(at));
      this.pendingBytes = buf.length - at;
    }
    return frames;
  }

  /** Bytes the frame being gathered needs in all (its length field, once 4 bytes are in). */
  private needed(): number {
    if (this.pendingBytes < 4) return 4;
    if (this.pendingTotal === 0) {
      const head = (this.pending[0] as Buffer).length >= 4 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
      this.pendingTotal = head.readUInt32BE(0);
    }
    return this.pendingTotal;
  }

  /** Bytes of a frame begun but not finished (the stream ended inside a frame when this is not 0). */
  get partial(): number {
    return this.pendingBytes;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checked(frame: Buffer): Buffer {
  const headersLength = frame.readUInt32BE(4);
  if (PRELUDE + headersLength + TRAILER > frame.length) throw new Error('event-stream headers longer than their frame');
  const preludeCrc = crc32(frame.subarray(0, 8));
  if (preludeCrc !== frame.readUInt32BE(8)) throw new Error('event-stream prelude checksum mismatch');
  if (crc32(frame.subarray(8, frame.length - TRAILER), preludeCrc) !== frame.readUInt32BE(frame.length - TRAILER)) throw new Error('event-stream message checksum mismatch');
  return frame;
}

/**
 * The bytes of a response `chunk` event (`:message-type event`, `:event-type chunk`, payload
 * `{"bytes":"<base64>"}`), or undefined for any other frame (exceptions, other events, another
 * payload shape), which the SDK's own unmarshaller then reads.
 */
export function chunkEventBytes(frame: Buffer): Buffer | undefined {
  const end = PRELUDE + frame.readUInt32BE(4);
  let messageType: string | undefined;
  let eventType: string | undefined;
  for (let at = PRELUDE; at < end;) {
    const nameLength = frame[at] as number;
    const name = frame.toString('latin1', at + 1, at + 1 + nameLength);
    at += 1 + nameLength;
    const type = frame[at++] as number;
    if (type === STRING || type === BINARY) {
      const length = frame.readUInt16BE(at);
      if (type === STRING && name === ':message-type') messageType = frame.toString('utf8', at + 2, at + 2 + length);
      else if (type === STRING && name === ':event-type') eventType = frame.toString('utf8', at + 2, at + 2 + length);
      at += 2 + length;
    } else {
      const size = FIXED_SIZE[type];
      if (size === undefined || size < 0) return undefined;
      at += size;
    }
  }
  if (messageType !== 'event' || eventType !== 'chunk') return undefined;
  // Exactly {"bytes":"…"} with nothing escaped inside; any other spelling of the same JSON is left to the SDK.
  const payload = frame.subarray(end, frame.length - TRAILER);
  const b64End = payload.length - BYTES_CLOSE.length;
  if (b64End < BYTES_OPEN.length || !payload.subarray(0, BYTES_OPEN.length).equals(BYTES_OPEN) || !payload.subarray(b64End).equals(BYTES_CLOSE)) return undefined;
  if (payload.indexOf(BACKSLASH, BYTES_OPEN.length) !== -1) return undefined;
  return Buffer.from(payload.toString('latin1', BYTES_OPEN.length, b64End), 'base64');
}
