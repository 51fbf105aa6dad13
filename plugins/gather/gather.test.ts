import { nthApp, testStep } from '../../test/support/step-tester.ts';

testStep('gather', [
  {
    name: 'reads digits up to the terminator',
    options: { prompt: 'menu.wav', max_digits: 4, timeout: 5 },
    caller: async (ch) => {
      await ch.waitForApp('playback');
      await ch.pressDtmf('42#');
    },
    expect: { outcome: 'ok', result: { digits: '42', tries: 1 } },
  },
  {
    name: 'a key during the prompt counts as the first digit',
    options: { prompt: ['menu.wav', 'closed.wav'], max_digits: 1 },
    caller: async (ch) => {
      await ch.waitForApp('playback');
      await ch.pressDtmf('3');
    },
    expect: { outcome: 'ok', result: { digits: '3' } },
  },
  {
    name: 'retries after an invalid answer, with the invalid prompt',
    options: { prompt: 'menu.wav', pattern: '^[1-3]$', tries: 3, invalid_prompt: 'invalid.wav', timeout: 2 },
    caller: async (ch) => {
      await ch.waitForApp('playback');
      await ch.pressDtmf('9');
      await nthApp(ch, 'playback', 3);
      await ch.pressDtmf('2');
    },
    expect: { outcome: 'ok', result: { digits: '2', tries: 2 }, includes: [/playback .*menu\.wav$/, /playback .*invalid\.wav$/, /playback .*menu\.wav$/] },
  },
  { name: 'nothing pressed: outcome timeout after all tries', options: { tries: 2, timeout: 0.05 }, expect: { outcome: 'timeout', result: { digits: '' } } },
  { name: 'min_digits must be a number', options: { min_digits: 'two' }, error: 'SB_FLOW_BAD_OPTION' },
]);
