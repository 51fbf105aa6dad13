import { eventFrame, serializeEventBody, type EventFormat, type HeaderList } from './wire.ts';

/**
 * One fired event. Headers keep FreeSWITCH's order; each wire encoding is built at most once and
 * shared by every listener that receives the event.
 */
export class SimEvent {
  readonly name: string;
  readonly headers: HeaderList;
  body: string | undefined;
  private readonly frames: Partial<Record<EventFormat, string>> = {};
  /** Lookups by lower-case name; every listener asks for Unique-ID, so it is worth keeping. */
  private readonly lookups = new Map<string, string | undefined>();

  constructor(name: string, headers: HeaderList, body?: string) {
    this.name = name;
    this.headers = headers;
    this.body = body;
  }

  /** Case-insensitive, like switch_event_get_header. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (this.lookups.has(lower)) return this.lookups.get(lower);
    let found: string | undefined;
    for (const [n, v] of this.headers) {
      if (n.toLowerCase() === lower) {
        found = v;
        break;
      }
    }
    this.lookups.set(lower, found);
    return found;
  }

  /** Call after changing `headers` in place. */
  touched(): void {
    this.lookups.clear();
  }

  get subclass(): string | undefined {
    return this.name === 'CUSTOM' ? this.get('Event-Subclass') : undefined;
  }

  add(name: string, value: string): this {
    this.headers.push([name, value]);
    this.lookups.clear();
    return this;
  }

  /** The complete frame (outer headers + serialized body) in one encoding. */
  frame(format: EventFormat): string {
    let f = this.frames[format];
    if (f === undefined) {
      f = eventFrame(format, serializeEventBody(format, this.headers, this.body));
      this.frames[format] = f;
    }
    return f;
  }

  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of this.headers) if (!(n in out)) out[n] = v;
    return out;
  }
}

/** switch_event_types_t names (switch_name_event accepts them case-insensitively). */
export const EVENT_NAMES: readonly string[] = [
  'CUSTOM', 'CLONE', 'CHANNEL_CREATE', 'CHANNEL_DESTROY', 'CHANNEL_STATE', 'CHANNEL_CALLSTATE', 'CHANNEL_ANSWER',
  'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HOLD',
  'CHANNEL_UNHOLD', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_UNPARK', 'CHANNEL_APPLICATION', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID',
  'API', 'LOG', 'INBOUND_CHAN', 'OUTBOUND_CHAN', 'STARTUP', 'SHUTDOWN', 'PUBLISH', 'UNPUBLISH', 'TALK', 'NOTALK',
  'SESSION_CRASH', 'MODULE_LOAD', 'MODULE_UNLOAD', 'DTMF', 'MESSAGE', 'PRESENCE_IN', 'NOTIFY_IN', 'PRESENCE_OUT',
  'PRESENCE_PROBE', 'MESSAGE_WAITING', 'MESSAGE_QUERY', 'ROSTER', 'CODEC', 'BACKGROUND_JOB', 'DETECTED_SPEECH',
  'DETECTED_TONE', 'PRIVATE_COMMAND', 'HEARTBEAT', 'TRAP', 'ADD_SCHEDULE', 'DEL_SCHEDULE', 'EXE_SCHEDULE',
  'RE_SCHEDULE', 'RELOADXML', 'NOTIFY', 'PHONE_FEATURE', 'PHONE_FEATURE_SUBSCRIBE', 'SEND_MESSAGE', 'RECV_MESSAGE',
  'REQUEST_PARAMS', 'CHANNEL_DATA', 'GENERAL', 'COMMAND', 'SESSION_HEARTBEAT', 'CLIENT_DISCONNECTED',
  'SERVER_DISCONNECTED', 'SEND_INFO', 'RECV_INFO', 'RECV_RTCP_MESSAGE', 'SEND_RTCP_MESSAGE', 'CALL_SECURE', 'NAT',
  'RECORD_START', 'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'FAILURE', 'SOCKET_DATA',
  'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CONFERENCE_DATA_QUERY', 'CONFERENCE_DATA', 'CALL_SETUP_REQ',
  'CALL_SETUP_RESULT', 'CALL_DETAIL', 'DEVICE_STATE', 'TEXT', 'SHUTDOWN_REQUESTED', 'ALL',
];

const EVENT_NAME_SET = new Map(EVENT_NAMES.map((n) => [n.toLowerCase(), n]));

/** switch_name_event: canonical name, or undefined when FreeSWITCH would not know it. */
export function canonicalEventName(name: string): string | undefined {
  const lower = name.toLowerCase();
  return EVENT_NAME_SET.get(lower.startsWith('switch_event_') ? lower.slice('switch_event_'.length) : lower);
}

/** What `myevents` subscribes to (mod_event_socket.c); PLAYBACK_* and CALLSTATE are not in it. */
export const MYEVENTS_NAMES: readonly string[] = [
  'CHANNEL_ANSWER', 'CHANNEL_APPLICATION', 'CHANNEL_BRIDGE', 'CHANNEL_CREATE', 'CHANNEL_DATA', 'CHANNEL_DESTROY',
  'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_ORIGINATE',
  'CHANNEL_UUID', 'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_STATE',
  'CHANNEL_UNBRIDGE', 'CHANNEL_UNPARK', 'DETECTED_SPEECH', 'DTMF', 'NOTALK', 'TALK',
];
