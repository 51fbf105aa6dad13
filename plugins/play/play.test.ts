import { testStep } from '../../test/support/step-tester.ts';

testStep('play', [
  {
    name: 'answers first, then plays a file relative to the sounds folder',
    options: 'welcome.wav',
    expect: { outcome: 'ok', result: { played: 1 }, commands: ['execute answer', /^api uuid_setvar \S+ playback_terminators none$/, /^execute playback \/.*\/flows\/sounds\/welcome\.wav$/, 'hangup NORMAL_CLEARING'] },
  },
  {
    name: 'plays a list in order, twice',
    options: { file: ['menu.wav', 'tone_stream://%(100,0,440)'], loops: 2 },
    expect: { result: { played: 4 }, includes: [/playback .*menu\.wav$/, 'execute playback tone_stream://%(100,0,440)', /playback .*menu\.wav$/, 'execute playback tone_stream://%(100,0,440)'] },
  },
  {
    name: 'barge_in: a key press stops the list with outcome interrupted',
    options: { file: ['menu.wav', 'closed.wav'], barge_in: true },
    caller: async (ch) => {
      await ch.waitForApp('playback');
      await ch.pressDtmf('5');
    },
    expect: { outcome: 'interrupted', result: { key: '5', played: 1 } },
  },
  { name: 'needs a file', options: {}, error: 'SB_FLOW_BAD_OPTION' },
  { name: 'loops must be a whole number', options: { file: 'a.wav', loops: 1.5 }, error: 'SB_FLOW_BAD_OPTION' },
]);
