import { callerHangsUpDuring, testStep } from '../../test/support/step-tester.ts';

testStep('conference', [
  { name: 'joins a room with flags and PIN', options: { room: 'sales', muted: true, moderator: true, pin: '4321' }, caller: callerHangsUpDuring('conference'), expect: { ending: 'hangup', includes: ['execute answer', 'execute conference sales@default+4321+flags{moderator|mute}'] } },
  { name: 'checks the member limit first', options: { room: 'sales', max_members: 5 }, caller: callerHangsUpDuring('conference'), expect: { includes: ['api conference sales list count', 'execute conference sales@default'] } },
  { name: 'room names are words', options: { room: 'a b' }, error: 'SB_FLOW_BAD_OPTION' },
]);
