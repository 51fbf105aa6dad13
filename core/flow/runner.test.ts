import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepHarness } from '../../test/support/step-tester.ts';

let h: StepHarness;
beforeAll(async () => {
  h = await StepHarness.start({ pluginDirs: [new URL('../../test/fixtures/plugins', import.meta.url).pathname] });
});
afterAll(async () => {
  await h?.close();
});

describe('runFlow', () => {
  it('a failing step goes to on_error (logged once), which runs instead of the rest', async () => {
    const r = await h.run(`name: t
steps:
  - answer
  - bridge: "1000 evil"
  - play: welcome.wav
on_error:
  - play: sorry.wav
  - hangup: NORMAL_TEMPORARY_FAILURE
`);
    expect(r.result.ending).toBe('error');
    expect(r.commands.filter((c) => c.startsWith('execute playback')).map((c) => c.split('/').pop())).toEqual(['sorry.wav']);
    expect(r.commands.at(-1)).toBe('hangup NORMAL_TEMPORARY_FAILURE');
    expect(r.timeline.filter((e) => e.kind === 'error')).toHaveLength(1);
  });

  it('on: { error } on the step wins over on_error', async () => {
    const r = await h.run(`name: t
steps:
  - id: x
    transfer: "1000 evil"
    on: { error: fallback }
  - hangup
  - id: fallback
    hangup: USER_BUSY
on_error:
  - hangup: CALL_REJECTED
`);
    expect(r.commands).toEqual(['hangup USER_BUSY']);
  });

  it('without on_error, a failure hangs up with NORMAL_TEMPORARY_FAILURE', async () => {
    const r = await h.run('name: t\nsteps:\n  - bridge: "1000 evil"\n  - play: welcome.wav\n');
    expect(r.result.ending).toBe('error');
    expect(r.commands).toEqual(['hangup NORMAL_TEMPORARY_FAILURE']);
  });

  it('the caller hanging up aborts the step in progress and runs on_hangup', async () => {
    const r = await h.run(
      `name: t
steps:
  - answer
  - play: { file: silence_stream://600000 }
  - play: welcome.wav
on_hangup:
  - set: { vars: { cleaned: yes } }
`,
      {
        name: 'hangup',
        caller: async (ch) => {
          await ch.waitForApp('playback');
          await ch.hangup('NORMAL_CLEARING');
        },
      },
    );
    expect(r.result.ending).toBe('hangup');
    expect(r.commands.filter((c) => c.startsWith('execute playback'))).toHaveLength(1);
    expect(Object.keys(r.result.steps).some((id) => id.startsWith('on_hangup'))).toBe(true);
  });

  it('a loop stops at max_steps', async () => {
    const r = await h.run('name: t\nmax_steps: 25\nsteps:\n  - id: top\n    set: { vars: { x: 1 } }\n  - goto: top\n');
    expect(r.result.ending).toBe('max-steps');
    expect(r.result.stepsRun).toBe(25);
  });

  it('options written as templates are checked after rendering', async () => {
    const r = await h.run('name: t\nvars: { n: "lots" }\nsteps:\n  - wait: "${vars.n}"\n');
    expect(r.result.ending).toBe('error');
    expect(r.timeline.find((e) => e.kind === 'error')?.detail).toContain('SB_FLOW_BAD_OPTION');
  });

  it('caller data in templates stays data', async () => {
    const r = await h.run('name: t\nsteps:\n  - set: { channel: { sb_from: "${call.caller}" } }\n', { name: 'data', call: { from: '${uuid_kill all}' } });
    expect(r.result.ending).toBe('error');
    expect(r.commands).toEqual(['hangup NORMAL_TEMPORARY_FAILURE']);
  });

  it('a third-party plugin from another folder runs without any change in core', async () => {
    const r = await h.run('name: t\nsteps:\n  - say-digits: { digits: "${call.caller}" }\n', { name: 'third-party', call: { from: '1203' } });
    expect(r.result.ending).toBe('completed');
    expect(r.commands.filter((c) => c.startsWith('execute playback')).map((c) => c.split(' ')[2])).toEqual(['digits/1.wav', 'digits/2.wav', 'digits/0.wav', 'digits/3.wav']);
  });
});
