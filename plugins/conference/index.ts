import { defineStep } from '../../core/plugins/types.ts';

export interface ConferenceOptions {
  room: string;
  profile: string;
  moderator: boolean;
  muted: boolean;
  pin?: string;
  max_members?: number;
}

export default defineStep<ConferenceOptions>({
  meta: {
    name: 'conference',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Puts the caller in a conference room (mod_conference) until they leave: moderator / muted flags, PIN, a member limit.',
    shorthand: 'room',
    needsAnswer: true,
    outcomes: ['full'],
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['room'],
      properties: {
        room: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Room name (letters, digits, _ . -). Templates welcome: "room-${vars.team}".' },
        profile: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'default', description: 'conference.conf.xml profile.' },
        moderator: { type: 'boolean', default: false },
        muted: { type: 'boolean', default: false, description: 'Join muted (listen only until unmuted).' },
        pin: { type: 'string', pattern: '^[0-9]{1,16}$', description: 'Callers must enter this PIN.' },
        max_members: { type: 'integer', minimum: 1, maximum: 10000, description: 'Refuse (outcome full) when the room already has this many members.' },
      },
    },
  },
  create: ({ call }) => ({
    async run(o, signal) {
      if (o.max_members !== undefined) {
        const count = await call.conferenceSize(o.room);
        if (count >= o.max_members) return { outcome: 'full', members: count };
      }
      const flags = [...(o.moderator ? (['moderator'] as const) : []), ...(o.muted ? (['mute'] as const) : [])];
      await call.conference(o.room, { profile: o.profile, pin: o.pin, flags, signal });
      return { outcome: 'ok', room: o.room };
    },
  }),
});
