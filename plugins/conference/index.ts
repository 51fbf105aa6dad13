import { escape } from '../../core/esl/index.ts';
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
      escape.assertToken('room', o.room);
      if (o.max_members !== undefined) {
        const count = await call.conferenceSize(o.room);
        if (count >= o.max_members) return { outcome: 'full', members: count };
      }
      const flags = [o.moderator ? 'moderator' : '', o.muted ? 'mute' : ''].filter(Boolean);
      const arg = `${o.room}@${o.profile}${o.pin ? `+${o.pin}` : ''}${flags.length ? `+flags{${flags.join('|')}}` : ''}`;
      await call.execute('conference', arg, { signal });
      return { outcome: 'ok', room: o.room };
    },
  }),
});
