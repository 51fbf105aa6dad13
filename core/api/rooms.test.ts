// Conference rooms: the simulator's `conference` api (json_list, mute, unmute, kick, the
// not-found answers) as mod_conference gives them; core/esl/conference.ts on top (validation:
// nothing unsafe ever reaches FreeSWITCH; parsing of both reply styles); the REST routes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { FreeSwitchSim, type SimChannel } from '../../test/support/freeswitch-sim/index.ts';
import { ConferenceApi, EslClient, assertMemberId, assertRoomName } from '../esl/index.ts';

let rig: ApiRig;
let host: SimChannel;
let guest: SimChannel;

const ROOM_FLOWS = {
  'host.yaml': 'name: host\nmatch: { destination: ["8000"] }\nsteps:\n  - conference: { room: sales, moderator: true }\n  - hangup\n',
  'guest.yaml': 'name: guest\nmatch: { destination: ["8001"] }\nsteps:\n  - conference: { room: sales, muted: true }\n  - hangup\n',
};

beforeAll(async () => {
  rig = await startApiRig({ redis: false, flows: ROOM_FLOWS });
  const socket = { host: '127.0.0.1', port: rig.service.outboundAddress.port };
  host = await rig.sim.inboundCall({ to: '8000', from: '1001', callerName: 'Ada', socket });
  await host.waitForApp('conference');
  guest = await rig.sim.inboundCall({ to: '8001', from: '1002', callerName: 'Bob', socket });
  await guest.waitForApp('conference');
}, 30_000);

afterAll(async () => {
  // The host is still in the room: end the call so the service closes without waiting for it.
  if (host && !host.hungUp) await host.hangup();
  await rig?.close();
});

const api = (cmd: string): Promise<string> => rig.service.esl.api(cmd);
const memberId = (ch: SimChannel): number => Number(ch.conferenceMember?.memberId);

describe('simulator: mod_conference\'s conference api', () => {
  it('json_list: an array of rooms with conference_jlist\'s fields, members newest first', async () => {
    const rooms = JSON.parse(await api('conference json_list')) as Array<Record<string, unknown> & { members: Array<Record<string, unknown>> }>;
    expect(rooms).toHaveLength(1);
    const room = rooms[0]!;
    expect(room).toMatchObject({ conference_name: 'sales', member_count: 2, running: true, locked: false });
    expect(typeof room.run_time).toBe('number');
    expect(room.conference_uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(room.members.map((m) => m.uuid)).toEqual([guest.uuid, host.uuid]);
    expect(room.members[1]).toMatchObject({ type: 'caller', id: memberId(host), caller_id_name: 'Ada', caller_id_number: '1001', flags: { can_speak: true, is_moderator: true, talking: false } });
    expect(room.members[0]).toMatchObject({ id: memberId(guest), flags: { can_speak: false, is_moderator: false } });
    expect(typeof room.members[0]!.join_time).toBe('number');
    expect(await api('conference sales json_list')).toBe(await api('conference json_list'));
  });

  it('an unknown room: -ERR Conference <name> not found, for json_list and member commands alike', async () => {
    expect(await api('conference nowhere json_list')).toBe('-ERR Conference nowhere not found\n');
    expect(await api('conference nowhere mute 1')).toBe('-ERR Conference nowhere not found\n');
  });

  it('mute / unmute / kick answer +OK <action> <id>; an unknown member -ERR Non-Existant ID', async () => {
    const id = memberId(guest);
    expect(await api(`conference sales unmute ${id}`)).toBe(`+OK unmute ${id}\n`);
    expect(guest.conferenceMember?.muted).toBe(false);
    expect(await api(`conference sales mute ${id}`)).toBe(`+OK mute ${id}\n`);
    expect(guest.conferenceMember?.muted).toBe(true);
    expect(await api('conference sales kick 999')).toBe('-ERR Non-Existant ID 999\n');
    expect(await api('conference sales list')).toContain(`${id};${guest.name};${guest.uuid};Bob;1002;hear;`);
  });

  it('conference json_list with no room is an empty array', async () => {
    const empty = await FreeSwitchSim.start();
    try {
      const esl = new EslClient({ host: '127.0.0.1', port: empty.port, password: 'ClueCon' });
      await esl.start();
      expect(JSON.parse(await esl.api('conference json_list'))).toEqual([]);
      await esl.close();
    } finally {
      await empty.close();
    }
  });
});

describe('core/esl/conference.ts', () => {
  it.each([
    ['a space', 'sales all'],
    ['a line break', 'sales\nhupall'],
    ['a variable expansion', '${hupall(NORMAL_CLEARING)}'],
    ['a profile', 'sales@default'],
    ['nothing', ''],
    ['too long', 'r'.repeat(65)],
  ])('refuses a room name with %s before anything is sent', async (_label, name) => {
    const sent = rig.sim.received.length;
    const rooms = new ConferenceApi(rig.service.esl);
    expect(() => assertRoomName(name)).toThrow(expect.objectContaining({ code: 'SB_ESL_UNSAFE_VALUE' }));
    await expect(rooms.get(name)).rejects.toMatchObject({ code: 'SB_ESL_UNSAFE_VALUE' });
    await expect(rooms.member(name, 1, 'kick')).rejects.toMatchObject({ code: 'SB_ESL_UNSAFE_VALUE' });
    expect(rig.sim.received.length).toBe(sent);
  });

  it.each(['all', 'last', 'non_moderator', '1 all', '-1', '0', '1.5', '4294967296', ''])('refuses member id %j: only positive integers', (id) => {
    expect(() => assertMemberId(id)).toThrow(expect.objectContaining({ code: 'SB_ESL_UNSAFE_VALUE' }));
  });

  it('reads the replies of older mod_conference versions too (no +OK / -ERR prefix)', async () => {
    // Recorded answers of a FreeSWITCH 1.6 mod_conference (conference_api.c of that version).
    const replies: Record<string, string> = {
      'conference sales mute 3': 'OK mute 3\n',
      'conference sales kick 4': 'Non-Existant ID 4\n',
      'conference gone unmute 3': 'Conference gone not found\n',
    };
    const old = new ConferenceApi({ api: async (cmd) => replies[cmd] ?? '' });
    await expect(old.member('sales', 3, 'mute')).resolves.toBeUndefined();
    await expect(old.member('sales', 4, 'kick')).rejects.toMatchObject({ code: 'SB_ROOM_MEMBER_NOT_FOUND' });
    await expect(old.member('gone', 3, 'unmute')).rejects.toMatchObject({ code: 'SB_ROOM_NOT_FOUND' });
  });
});

describe('REST: /v1/rooms', () => {
  it('GET /v1/rooms and /v1/rooms/:name: members with caller id, flags and join time', async () => {
    const list = (await (await rig.get('/v1/rooms')).json()) as { rooms: Array<{ name: string; memberCount: number }> };
    expect(list.rooms).toEqual([expect.objectContaining({ name: 'sales', memberCount: 2 })]);
    const r = await rig.get('/v1/rooms/sales');
    expect(r.status).toBe(200);
    const room = (await r.json()) as { members: Array<Record<string, unknown>> };
    const hostRow = room.members.find((m) => m.callId === host.uuid);
    expect(hostRow).toEqual({ id: memberId(host), callId: host.uuid, callerIdName: 'Ada', callerIdNumber: '1001', muted: false, talking: false, moderator: true, joinedAt: expect.any(String) });
    expect(Math.abs(Date.parse(hostRow!.joinedAt as string) - Date.now())).toBeLessThan(60_000);
    expect(room.members.find((m) => m.callId === guest.uuid)).toMatchObject({ muted: true, moderator: false });
  });

  it('mute and unmute a member; the room shows it', async () => {
    const id = memberId(host);
    const muted = await rig.post(`/v1/rooms/sales/members/${id}/mute`);
    expect(muted.status).toBe(200);
    expect(await muted.json()).toEqual({ room: 'sales', member: id, done: 'mute' });
    expect(rig.sim.received.map((c) => c.line)).toContain(`api conference sales mute ${id}`);
    const room = (await (await rig.get('/v1/rooms/sales')).json()) as { members: Array<{ id: number; muted: boolean }> };
    expect(room.members.find((m) => m.id === id)?.muted).toBe(true);
    expect((await rig.post(`/v1/rooms/sales/members/${id}/unmute`)).status).toBe(200);
    expect(host.conferenceMember?.muted).toBe(false);
  });

  it('404 with a code for an unknown room or member', async () => {
    const room = await rig.get('/v1/rooms/nowhere');
    expect(room.status).toBe(404);
    expect(await room.json()).toMatchObject({ code: 'SB_ROOM_NOT_FOUND' });
    const member = await rig.post('/v1/rooms/sales/members/999/kick');
    expect(member.status).toBe(404);
    expect(await member.json()).toMatchObject({ code: 'SB_ROOM_MEMBER_NOT_FOUND' });
    expect((await rig.post('/v1/rooms/nowhere/members/1/mute')).status).toBe(404);
  });

  it('kick: the member leaves the room and its flow goes on (here: hangs up)', async () => {
    const r = await rig.post(`/v1/rooms/sales/members/${memberId(guest)}/kick`);
    expect(r.status).toBe(200);
    await guest.waitForHangup();
    const room = (await (await rig.get('/v1/rooms/sales')).json()) as { memberCount: number; members: Array<{ callId: string }> };
    expect(room.members.map((m) => m.callId)).toEqual([host.uuid]);
    expect(room.memberCount).toBe(1);
  });
});
