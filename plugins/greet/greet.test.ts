import { testStep } from '../../test/support/step-tester.ts';

testStep('greet', [
  { name: 'plays the default greeting shipped in flows/sounds', expect: { outcome: 'ok', includes: ['execute answer', /^execute playback \/.*\/flows\/sounds\/welcome\.wav$/] } },
  { name: 'plays a given greeting', options: { file: 'closed.wav' }, expect: { includes: [/playback .*closed\.wav$/] } },
  { name: 'unknown option with a suggestion', options: { flie: 'x.wav' }, error: 'SB_FLOW_BAD_OPTION' },
]);
