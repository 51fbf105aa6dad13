import { testStep } from '../../test/support/step-tester.ts';

testStep('hangup', [
  { name: 'hangs up with NORMAL_CLEARING by default', expect: { outcome: 'ok', ending: 'completed', commands: ['hangup NORMAL_CLEARING'] } },
  { name: 'hangs up with the given cause', options: 'USER_BUSY', expect: { result: { cause: 'USER_BUSY' }, commands: ['hangup USER_BUSY'] } },
  { name: 'a cause must look like one', options: 'busy; rm -rf', error: 'SB_FLOW_BAD_OPTION' },
]);
