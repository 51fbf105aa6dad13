import { testStep } from '../../test/support/step-tester.ts';

testStep('answer', [
  { name: 'answers a ringing call', expect: { outcome: 'ok', commands: ['execute answer', 'hangup NORMAL_CLEARING'] } },
  { name: 'takes no options', options: { early: true }, error: 'SB_FLOW_BAD_OPTION' },
]);
