import type { FastifyInstance } from 'fastify';
import { SwitchboardError } from '../errors.ts';
import { ConferenceApi, type MemberAction } from '../esl/index.ts';
import type { Service } from '../service.ts';
import { ERROR_RESPONSES } from './schemas.ts';

const roomRef = { $ref: 'Room#' } as const;
const roomName = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Conference room name (letters, digits, _ . -).' } as const;

/** Conference rooms on FreeSWITCH (mod_conference), over the inbound event socket. */
export function registerRoomRoutes(app: FastifyInstance, service: Service): void {
  const rooms = new ConferenceApi({ api: (command) => service.esl.api(command) });

  app.get(
    '/v1/rooms',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Conference rooms and their members',
        description: 'Every room FreeSWITCH has right now (a room exists while someone is in it).',
        response: { 200: { type: 'object', required: ['rooms'], properties: { rooms: { type: 'array', items: roomRef } } }, ...ERROR_RESPONSES },
      },
    },
    async () => ({ rooms: await rooms.list() }),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/rooms/:name',
    {
      schema: {
        tags: ['rooms'],
        summary: 'One conference room and its members',
        params: { type: 'object', required: ['name'], properties: { name: roomName } },
        response: { 200: roomRef, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const room = await rooms.get(req.params.name);
      if (!room) throw new SwitchboardError('SB_ROOM_NOT_FOUND', [req.params.name]);
      return room;
    },
  );

  for (const action of ['mute', 'unmute', 'kick'] as const satisfies readonly MemberAction[]) {
    app.post<{ Params: { name: string; id: number } }>(
      `/v1/rooms/:name/members/:id/${action}`,
      {
        schema: {
          tags: ['rooms'],
          summary: { mute: 'Mute a member', unmute: 'Unmute a member', kick: 'Remove a member from the room' }[action],
          params: {
            type: 'object',
            required: ['name', 'id'],
            properties: { name: roomName, id: { type: 'integer', minimum: 1, maximum: 4294967295, description: 'Member id (from the room\'s members).' } },
          },
          body: { type: 'object', additionalProperties: false, properties: {} },
          response: {
            200: { type: 'object', required: ['room', 'member', 'done'], properties: { room: { type: 'string' }, member: { type: 'integer' }, done: { enum: ['mute', 'unmute', 'kick'] } } },
            ...ERROR_RESPONSES,
          },
        },
      },
      async (req) => {
        await rooms.member(req.params.name, req.params.id, action);
        return { room: req.params.name, member: req.params.id, done: action };
      },
    );
  }
}
