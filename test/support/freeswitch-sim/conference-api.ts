// The `conference` api command of mod_conference (conference_api.c, conference_jlist), on the
// simulator's rooms: a room exists while at least one leg runs the `conference` application.
import type { ApiHost } from './api-commands.ts';
import type { ConferenceMembership, SimChannel } from './channel.ts';
import { separateString } from './originate.ts';

type Member = SimChannel & { conferenceMember: ConferenceMembership };

/** Members of each room, newest first (mod_conference prepends to its member list). */
function rooms(host: ApiHost): Map<string, Member[]> {
  const out = new Map<string, Member[]>();
  for (const c of host.channels.values()) {
    if (c.isDestroyed || c.hungUp || !c.conferenceMember) continue;
    const list = out.get(c.conferenceMember.name) ?? [];
    list.push(c as Member);
    out.set(c.conferenceMember.name, list);
  }
  for (const list of out.values()) list.sort((a, b) => Number(b.conferenceMember.memberId) - Number(a.conferenceMember.memberId));
  return out;
}

const seconds = (host: ApiHost, since: number): number => Math.max(0, Math.floor((host.now() - since) / 1000));

/** One room as conference_jlist builds it (FreeSWITCH 1.10 field names and types). */
function jlist(host: ApiHost, name: string, members: Member[]): Record<string, unknown> {
  const first = Math.min(...members.map((m) => m.conferenceMember.joinedAt));
  return {
    conference_name: name,
    member_count: members.length,
    ghost_count: 0,
    rate: 8000,
    run_time: seconds(host, first),
    conference_uuid: members[0]?.conferenceMember.roomUuid ?? '',
    interval: 20,
    frame_rate: 0,
    locked: false,
    destruct: true,
    wait_mod: false,
    audio_always: false,
    running: true,
    answered: true,
    enforce_min: true,
    bridge_to: false,
    dynamic: true,
    exit_sound: true,
    enter_sound: true,
    recording: false,
    video_bridge: false,
    video_floor_only: false,
    video_rfc4579: false,
    members: members.map((c, i) => {
      const m = c.conferenceMember;
      return {
        type: 'caller',
        id: Number(m.memberId),
        flags: {
          can_hear: true,
          can_see: true,
          can_speak: !m.muted,
          hold: false,
          mute_detect: false,
          talking: m.talking && !m.muted,
          has_video: false,
          video_bridge: false,
          // The floor goes to the first to join in a room without speakers: the oldest here.
          has_floor: i === members.length - 1,
          is_moderator: m.moderator,
          end_conference: false,
        },
        uuid: c.uuid,
        caller_id_name: c.callerIdName,
        caller_id_number: c.callerIdNumber,
        join_time: seconds(host, m.joinedAt),
        last_talking: 0,
        energy: 100,
        volume_in: 0,
        volume_out: 0,
        'output-volume': 0,
        'input-volume': 0,
      };
    }),
  };
}

/** `conference list` text line flags: hear|speak|talking|…|moderator. */
function listFlags(m: ConferenceMembership): string {
  return ['hear', ...(m.muted ? [] : ['speak']), ...(m.talking && !m.muted ? ['talking'] : []), ...(m.moderator ? ['moderator'] : [])].join('|');
}

/** Member-target sub-commands: `<id>` (atoi, like FreeSWITCH), `all`, `last` (the oldest member). */
function targets(members: Member[], who: string): Member[] | number {
  if (who === 'all') return members;
  if (who === 'last') return members.slice(-1);
  const id = Number.parseInt(who, 10);
  if (!(id > 0)) return 0;
  const found = members.filter((c) => Number(c.conferenceMember.memberId) === id);
  return found.length > 0 ? found : id;
}

export function conferenceApi(host: ApiHost, arg: string | undefined): string {
  const argv = separateString(arg ?? '', ' ');
  const name = argv[0] ?? '';
  const all = rooms(host);
  if (name === 'list' || name === '') {
    if (all.size === 0) return '+OK No active conferences.\n';
    return [...all].map(([n, m]) => `+OK Conference ${n} (${m.length} members)\n`).join('');
  }
  // cJSON_Print: tab-indented; an empty server lists [].
  if (name === 'json_list') return `${JSON.stringify([...all].map(([n, m]) => jlist(host, n, m)), null, '\t')}\n`;
  const members = all.get(name);
  if (!members) return `-ERR Conference ${name} not found\n`;
  const sub = (argv[1] ?? '').toLowerCase();
  switch (sub) {
    case 'list':
      if ((argv[2] ?? '').toLowerCase() === 'count') return `${members.length}\n`;
      return members
        .map((c) => `${c.conferenceMember.memberId};${c.name};${c.uuid};${c.callerIdName};${c.callerIdNumber};${listFlags(c.conferenceMember)};0;0;100;0\n`)
        .join('');
    case 'json_list':
      return `${JSON.stringify([jlist(host, name, members)], null, '\t')}\n`;
    case 'kick':
    case 'hup':
    case 'mute':
    case 'unmute': {
      const found = targets(members, argv[2] ?? '');
      if (found === 0) return `${sub} <[member_id|all]|last|non_moderator> [<quiet>]`;
      if (typeof found === 'number') return `-ERR Non-Existant ID ${found}\n`;
      let out = '';
      for (const c of found) {
        const m = c.conferenceMember;
        if (sub === 'hup') c.hangupNow('NORMAL_CLEARING');
        else if (sub === 'kick') {
          m.event('kick-member');
          m.leave.abort();
          out += `+OK kicked ${m.memberId}\n`;
        } else {
          m.muted = sub === 'mute';
          if (m.muted) m.talking = false;
          m.event(`${sub}-member`);
          out += `+OK ${sub} ${m.memberId}\n`;
        }
      }
      return out;
    }
    default:
      return `-ERR Conference command '${argv[1] ?? ''}' not found.\n`;
  }
}
