import type { Socket } from 'node:net';
import type { SimChannel } from './channel.ts';
import type { EslConnection } from './connection.ts';
import type { SimEvent } from './event.ts';
import type { EventFormat } from './wire.ts';
import { serializeEventBody } from './wire.ts';

/**
 * Pre-serialised channel events for benchmarks. Each template is a real channel event split
 * around its Event-Sequence value, so a frame costs two string concatenations and its
 * Content-Length is known without encoding.
 */
interface Template {
  event: SimEvent;
  prefix: Record<EventFormat, Buffer>;
  suffix: Record<EventFormat, Buffer>;
  fixedBytes: Record<EventFormat, number>;
}

const FORMATS: EventFormat[] = ['plain', 'json', 'xml'];

function splitAtSequence(body: string, format: EventFormat, seq: string): [string, string] {
  const marker =
    format === 'json' ? `"Event-Sequence":"${seq}"` : format === 'xml' ? `<Event-Sequence>${seq}</Event-Sequence>` : `Event-Sequence: ${seq}\n`;
  const at = body.indexOf(marker);
  if (at < 0) throw new Error('flood template without Event-Sequence');
  const valueAt = at + marker.indexOf(seq);
  return [body.slice(0, valueAt), body.slice(valueAt + seq.length)];
}

export function buildTemplates(channel: SimChannel): Template[] {
  // CHANNEL_* events only: benchmarks count on that prefix.
  const playback: Array<[string, string]> = [
    ['Application', 'playback'],
    ['Application-Data', '/tmp/prompt.wav'],
  ];
  const appUuid: [string, string] = ['Application-UUID', '7e575672-889d-40d7-b0e4-7fcad33b2b11'];
  const events: SimEvent[] = [
    channel.event('CHANNEL_STATE'),
    channel.event('CHANNEL_CALLSTATE', { pre: [['Original-Channel-Call-State', 'RINGING'], ['Channel-Call-State-Number', '4']] }),
    channel.event('CHANNEL_EXECUTE', { post: [...playback, appUuid] }),
    channel.event('CHANNEL_PROGRESS_MEDIA'),
    channel.event('CHANNEL_PARK'),
    channel.event('CHANNEL_EXECUTE_COMPLETE', { post: [...playback, ['Application-Response', 'FILE PLAYED'], appUuid] }),
    channel.event('CHANNEL_UNPARK'),
    channel.event('CHANNEL_ANSWER'),
  ];
  return events.map((event) => {
    const seq = event.get('Event-Sequence') ?? '0';
    const prefix = {} as Record<EventFormat, Buffer>;
    const suffix = {} as Record<EventFormat, Buffer>;
    const fixedBytes = {} as Record<EventFormat, number>;
    for (const f of FORMATS) {
      const body = serializeEventBody(f, event.headers, event.body);
      const [p, s] = splitAtSequence(body, f, seq);
      prefix[f] = Buffer.from(p, 'utf8');
      suffix[f] = Buffer.from(s, 'utf8');
      fixedBytes[f] = prefix[f].length + suffix[f].length;
    }
    return { event, prefix, suffix, fixedBytes };
  });
}

const CHUNK_BYTES = 256 * 1024;

function drained(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

const CL = Buffer.from('Content-Length: ');

/** Writes `count` events to one connection as fast as its socket drains. Returns how many went out. */
export async function floodConnection(conn: EslConnection, templates: Template[], count: number, firstSeq: number, format: EventFormat | undefined): Promise<number> {
  const usable = templates.filter((t) => conn.sub.wants(t.event));
  if (usable.length === 0) return 0;
  const fmt = format ?? conn.sub.format;
  const typeLine = Buffer.from(`\nContent-Type: text/event-${fmt}\n\n`);
  const maxFrame = Math.max(...usable.map((t) => t.fixedBytes[fmt])) + CL.length + typeLine.length + 64;
  const socket = conn.socket;
  const closed = (): boolean => socket.destroyed || !socket.writable;
  let sent = 0;
  let chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, maxFrame * 2));
  let used = 0;
  for (let i = 0; i < count; i++) {
    const t = usable[i % usable.length] as Template;
    const seq = String(firstSeq + i);
    const len = String(t.fixedBytes[fmt] + seq.length);
    used += CL.copy(chunk, used);
    used += chunk.write(len, used, 'latin1');
    used += typeLine.copy(chunk, used);
    used += t.prefix[fmt].copy(chunk, used);
    used += chunk.write(seq, used, 'latin1');
    used += t.suffix[fmt].copy(chunk, used);
    sent++;
    if (used > chunk.length - maxFrame || i === count - 1) {
      if (closed()) return sent;
      // The buffer is handed to the socket as it is; the next frames go into a fresh one.
      const more = socket.write(chunk.subarray(0, used));
      chunk = Buffer.allocUnsafe(chunk.length);
      used = 0;
      if (!more && i < count - 1) {
        await drained(socket);
        if (closed()) return sent;
      }
    }
  }
  if (!closed()) await new Promise<void>((resolve) => socket.write('', () => resolve()));
  return sent;
}
