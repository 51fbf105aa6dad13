import { SwitchboardError } from '../errors.ts';
import { printable } from './escape.ts';

/** One caller in a conference room, as `conference … json_list` reports it. */
export interface ConferenceMember {
  /** mod_conference's member id: what mute/unmute/kick take. */
  id: number;
  /** The member's channel (call) uuid. */
  callId: string;
  callerIdName: string;
  callerIdNumber: string;
  muted: boolean;
  talking: boolean;
  moderator: boolean;
  /** ISO time the member joined (FreeSWITCH reports seconds since joining). */
  joinedAt: string;
}

export interface ConferenceRoom {
  name: string;
  memberCount: number;
  /** Seconds since the room was created. */
  runTimeSec: number;
  locked: boolean;
  members: ConferenceMember[];
}

export type MemberAction = 'mute' | 'unmute' | 'kick';

/** What the room API needs from the inbound event socket. */
export interface ApiSender {
  api(command: string): Promise<string>;
}

const ROOM = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A room name that is one safe token of an api command line: letters, digits, `_`, `.`, `-`
 * (no `@profile`, no spaces, nothing FreeSWITCH would split or expand): the `conference` step's own rule.
 */
export function assertRoomName(name: string): string {
  if (!ROOM.test(name)) throw new SwitchboardError('SB_ESL_UNSAFE_VALUE', ['conference room', `"${printable(name)}" is not a room name (letters, digits, _ . -; at most 64)`]);
  return name;
}

/** A member id: a positive integer (mod_conference would also take `all`, `last`, `non_moderator`). */
export function assertMemberId(id: number | string): number {
  const n = typeof id === 'number' ? id : /^[0-9]{1,10}$/.test(id) ? Number(id) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new SwitchboardError('SB_ESL_UNSAFE_VALUE', ['conference member id', `"${printable(String(id))}" is not a member id (a positive integer)`]);
  return n;
}

// mod_conference writes these with or without the +OK / -ERR prefix depending on the version.
const ROOM_NOT_FOUND = /^(?:-ERR )?Conference (\S+) not found/;
const MEMBER_NOT_FOUND = /^(?:-ERR )?Non-Existant ID (\d+)/;

interface RawMember {
  type?: string;
  id?: number;
  uuid?: string;
  caller_id_name?: string;
  caller_id_number?: string;
  join_time?: number;
  flags?: { can_speak?: boolean; talking?: boolean; is_moderator?: boolean };
}

interface RawRoom {
  conference_name?: string;
  member_count?: number;
  run_time?: number;
  locked?: boolean;
  members?: RawMember[];
}

/** Parses the body of `conference [<name>] json_list` (conference_jlist: an array of rooms). */
export function parseJsonList(body: string, now = Date.now()): ConferenceRoom[] {
  let raw: unknown;
  try {
    raw = JSON.parse(body.trim() || '[]');
  } catch {
    throw new SwitchboardError('SB_ROOM_COMMAND_FAILED', ['json_list', printable(body.trim())]);
  }
  if (!Array.isArray(raw)) throw new SwitchboardError('SB_ROOM_COMMAND_FAILED', ['json_list', 'not a JSON array']);
  return (raw as RawRoom[]).map((r) => ({
    name: String(r.conference_name ?? ''),
    memberCount: Number(r.member_count ?? 0),
    runTimeSec: Number(r.run_time ?? 0),
    locked: r.locked === true,
    // Recording nodes are listed as members too (type recording_node): not callers.
    members: (r.members ?? [])
      .filter((m) => m.type === undefined || m.type === 'caller')
      .map((m) => ({
        id: Number(m.id),
        callId: String(m.uuid ?? ''),
        callerIdName: String(m.caller_id_name ?? ''),
        callerIdNumber: String(m.caller_id_number ?? ''),
        muted: m.flags?.can_speak === false,
        talking: m.flags?.talking === true,
        moderator: m.flags?.is_moderator === true,
        joinedAt: new Date(now - Number(m.join_time ?? 0) * 1000).toISOString(),
      })),
  }));
}

/** Conference rooms over the inbound event socket: list, inspect, mute, unmute, kick. */
export class ConferenceApi {
  constructor(private readonly esl: ApiSender) {}

  async list(): Promise<ConferenceRoom[]> {
    return parseJsonList(await this.send('json_list', 'conference json_list'));
  }

  /** The room, or undefined when FreeSWITCH has no room by that name (rooms exist while someone is in them). */
  async get(name: string): Promise<ConferenceRoom | undefined> {
    const body = await this.esl.api(`conference ${assertRoomName(name)} json_list`);
    if (ROOM_NOT_FOUND.test(body)) return undefined;
    if (body.startsWith('-ERR')) throw new SwitchboardError('SB_ROOM_COMMAND_FAILED', [name, printable(body.trim())]);
    return parseJsonList(body)[0];
  }

  /** Mutes, unmutes or kicks one member. Throws SB_ROOM_NOT_FOUND / SB_ROOM_MEMBER_NOT_FOUND. */
  async member(name: string, id: number | string, action: MemberAction): Promise<void> {
    const room = assertRoomName(name);
    const member = assertMemberId(id);
    const body = (await this.esl.api(`conference ${room} ${action} ${member}`)).trim();
    if (ROOM_NOT_FOUND.test(body)) throw new SwitchboardError('SB_ROOM_NOT_FOUND', [room]);
    if (MEMBER_NOT_FOUND.test(body)) throw new SwitchboardError('SB_ROOM_MEMBER_NOT_FOUND', [room, member]);
    const done = action === 'kick' ? 'kicked' : action;
    if (!new RegExp(`^\\+?OK ${done} ${member}$`, 'm').test(body)) throw new SwitchboardError('SB_ROOM_COMMAND_FAILED', [room, printable(body)]);
  }

  private async send(what: string, command: string): Promise<string> {
    const body = await this.esl.api(command);
    if (body.startsWith('-ERR') || /^Conference command '.*' not found/.test(body)) throw new SwitchboardError('SB_ROOM_COMMAND_FAILED', [what, printable(body.trim())]);
    return body;
  }
}
