import { callerHangsUpDuring, testStep } from '../../test/support/step-tester.ts';

testStep('record', [
  {
    name: 'beeps, then records to a path under the recordings folder',
    options: { file: 'vm/${call.uuid}.wav', max_seconds: 60, silence_stop: { threshold: 200, seconds: 3 } },
    expect: { outcome: 'ok', includes: [/^api uuid_setvar \S+ playback_terminators #$/, 'execute playback tone_stream://%(250,0,800)', /^execute record \/tmp\/switchboard-test-recordings\/vm\/[0-9a-f-]{36}\.wav 60 200 3$/] },
  },
  { name: 'without beep', options: { file: '/tmp/x.wav', beep: false }, expect: { commands: ['execute answer', /playback_terminators/, 'execute record /tmp/x.wav 120', 'hangup NORMAL_CLEARING'] } },
  {
    name: 'the caller hanging up while recording (how voicemails end) keeps the file for on_hangup',
    options: { file: '/tmp/vm.wav', beep: false },
    caller: callerHangsUpDuring('record'),
    expect: { outcome: 'hangup', result: { file: '/tmp/vm.wav' }, ending: 'hangup', includes: ['execute record /tmp/vm.wav 120'] },
  },
  { name: 'a path with a space is refused at run time', options: { file: '/tmp/a b.wav', beep: false }, expect: { ending: 'error' } },
  { name: 'needs a file', options: { max_seconds: 10 }, error: 'SB_FLOW_BAD_OPTION' },
]);
