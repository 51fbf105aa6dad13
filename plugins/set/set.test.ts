import { testStep } from '../../test/support/step-tester.ts';

testStep('set', [
  {
    name: 'flow variables reach later steps; channel variables are set on the call',
    flow: `name: t
steps:
  - set: { vars: { prompt: closed.wav }, channel: { sb_language: en, sb_note: "it's a test, really" } }
  - play: "\${vars.prompt}"
`,
    expect: { includes: [/^api uuid_setvar \S+ sb_language en$/, "execute set sb_note=it's a test, really", /playback .*closed\.wav$/] },
  },
  { name: 'needs vars or channel', options: {}, error: 'SB_FLOW_BAD_OPTION' },
]);
