import { farEndHangsUp, testStep } from '../../test/support/step-tester.ts';

testStep('transfer', [
  { name: 'blind: uuid_transfer into the call\'s context, and the flow ends', options: '1001', expect: { outcome: 'ok', includes: [/^api uuid_transfer \S+ 1001 XML default$/] } },
  { name: 'blind into a FusionPBX domain context', options: { to: '1001' }, call: { context: 'acme.example.com', domain: 'acme.example.com' }, expect: { includes: [/^api uuid_transfer \S+ 1001 XML acme\.example\.com$/] } },
  {
    name: 'attended: rings the extension with an announcement',
    options: { to: '1001', mode: 'attended', announce: 'announce.wav', timeout: 20 },
    caller: farEndHangsUp(),
    expect: { outcome: 'ok', includes: [/^execute bridge \{call_timeout=20\}\[group_confirm_file=\/.*announce\.wav,group_confirm_key=exec\]user\/1001$/] },
  },
  {
    name: 'attended: busy goes to the fallback branch',
    flow: `name: t
steps:
  - id: try
    transfer: { to: "1001", mode: attended }
    on: { busy: fallback }
  - hangup
  - id: fallback
    hangup: USER_BUSY
`,
    before: (sim) => sim.onOriginate(() => ({ fail: 'USER_BUSY' })),
    expect: { includes: [/^execute bridge .*user\/1001$/, 'hangup USER_BUSY'] },
  },
  { name: 'gateway: dials the number through the trunk', options: { to: '+15551234567', mode: 'gateway', gateway: 'trunk1' }, caller: farEndHangsUp(), expect: { includes: [/^execute bridge \{call_timeout=30\}sofia\/gateway\/trunk1\/\+15551234567$/] } },
  { name: 'refer: deflects to a SIP URI', options: { to: 'sip:1001@pbx.example.com', mode: 'refer' }, expect: { includes: ['execute deflect sip:1001@pbx.example.com'] } },
  { name: 'an unknown mode is a load error', options: { to: '1001', mode: 'blnd' }, error: 'SB_FLOW_BAD_OPTION' },
  { name: 'a hostile destination never reaches FreeSWITCH', options: { to: '1001 XML default\napi hupall' }, expect: { ending: 'error', includes: ['hangup NORMAL_TEMPORARY_FAILURE'] } },
]);
