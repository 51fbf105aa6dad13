import { farEndHangsUp, testStep } from '../../test/support/step-tester.ts';

testStep('bridge', [
  { name: 'rings several endpoints at once, and goes on when the bridged call ends', options: { to: ['user/1001', '1002', 'sofia/gateway/gw1/+15551234567'] }, caller: farEndHangsUp(), expect: { outcome: 'ok', includes: [/^execute bridge \{call_timeout=30\}user\/1001,user\/1002,sofia\/gateway\/gw1\/\+15551234567$/] } },
  { name: 'one after another', options: { to: ['user/1001', 'user/1002'], strategy: 'sequential', timeout: 10 }, caller: farEndHangsUp(), expect: { includes: [/^execute bridge \{call_timeout=10\}user\/1001\|user\/1002$/] } },
  { name: 'no answer becomes outcome no_answer', options: 'user/1001', before: (sim) => sim.onOriginate(() => ({ fail: 'NO_ANSWER' })), expect: { outcome: 'no_answer', result: { cause: 'NO_ANSWER' } } },
  { name: 'an endpoint with a variable block is refused', options: '{origination_uuid=x}user/1001', expect: { ending: 'error' } },
]);
