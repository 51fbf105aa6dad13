import { testStep } from '../../test/support/step-tester.ts';

testStep('wait', [
  { name: 'sleeps on the channel', options: 1.5, expect: { outcome: 'ok', commands: ['execute sleep 1500', 'hangup NORMAL_CLEARING'] } },
  { name: 'needs seconds', options: {}, error: 'SB_FLOW_BAD_OPTION' },
  { name: 'not negative', options: -1, error: 'SB_FLOW_BAD_OPTION' },
]);
