import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { PluginHost } from '../plugins/host.ts';
import { compileFlow } from './compile.ts';
import { formatDiagnostic } from './diagnostics.ts';

let host: PluginHost;
beforeAll(async () => {
  host = await PluginHost.load(loadConfig().pluginDirs);
  expect(host.problems).toEqual([]);
});

const ok = (steps: string): string => `name: t\nsteps:\n${steps}`;

/** [label, yaml, code, line, column, message fragment] — line/column of the first error. */
const BROKEN: Array<[string, string, string, number, number, string]> = [
  ['empty file', '', 'SB_FLOW_EMPTY', 1, 1, 'empty'],
  ['only comments', '# nothing here\n# at all\n', 'SB_FLOW_EMPTY', 1, 1, 'empty'],
  ['a list, not a mapping', '- answer\n- hangup\n', 'SB_FLOW_NOT_MAPPING', 1, 1, 'must be a mapping'],
  ['a scalar', 'just text\n', 'SB_FLOW_NOT_MAPPING', 1, 1, 'must be a mapping'],
  ['YAML syntax: duplicated key', 'name: t\nname: u\nsteps:\n  - answer\n', 'SB_FLOW_YAML', 2, 1, 'duplicated mapping key'],
  ['YAML syntax: unclosed flow mapping', 'name: t\nsteps:\n  - play: { file: a.wav\n', 'SB_FLOW_YAML', 4, 1, 'YAML syntax'],
  ['YAML syntax: tab indentation', 'name: t\nsteps:\n\t- answer\n', 'SB_FLOW_YAML', 3, 1, 'YAML syntax'],
  ['missing name', 'steps:\n  - answer\n', 'SB_FLOW_SCHEMA', 1, 1, 'missing key "name"'],
  ['missing steps', 'name: t\n', 'SB_FLOW_SCHEMA', 1, 1, 'missing key "steps"'],
  ['typo in a top-level key', 'name: t\nstpes:\n  - answer\n', 'SB_FLOW_SCHEMA', 2, 1, 'did you mean "steps"'],
  ['bad flow name', 'name: Front Desk\nsteps:\n  - answer\n', 'SB_FLOW_SCHEMA', 1, 7, 'must match pattern'],
  ['empty steps', 'name: t\nsteps: []\n', 'SB_FLOW_SCHEMA', 2, 8, 'fewer than 1'],
  ['unknown step', ok('  - answer\n  - grete: hi.wav\n'), 'SB_FLOW_UNKNOWN_STEP', 4, 5, 'did you mean "greet"'],
  ['unknown step as a bare word', ok('  - hangupp\n'), 'SB_FLOW_UNKNOWN_STEP', 3, 5, 'did you mean "hangup"'],
  ['unknown option', ok('  - hangup: { cuase: USER_BUSY }\n'), 'SB_FLOW_BAD_OPTION', 3, 15, 'unknown option "cuase" (did you mean "cause"?)'],
  ['unknown option, block style', ok('  - play:\n      file: a.wav\n      loop: 2\n'), 'SB_FLOW_BAD_OPTION', 5, 7, 'did you mean "loops"'],
  ['missing required option', ok('  - play\n'), 'SB_FLOW_BAD_OPTION', 3, 5, 'missing option "file"'],
  ['wrong option type', ok('  - play: { file: a.wav, loops: many }\n'), 'SB_FLOW_BAD_OPTION', 3, 33, 'must be integer'],
  ['option out of range', ok('  - wait: { seconds: 99999 }\n'), 'SB_FLOW_BAD_OPTION', 3, 22, 'must be <= 3600'],
  ['bad hangup cause', ok('  - hangup: busy\n'), 'SB_FLOW_BAD_OPTION', 3, 13, 'must match pattern'],
  ['options where a mapping is needed', ok('  - set: 5\n'), 'SB_FLOW_BAD_OPTION', 3, 10, 'must be a mapping'],
  ['two steps in one item', ok('  - answer: {}\n    hangup: {}\n'), 'SB_FLOW_SCHEMA', 4, 5, 'one step per list item'],
  ['duplicate step id', ok('  - id: a\n    answer: {}\n  - id: a\n    hangup: {}\n'), 'SB_FLOW_DUPLICATE_ID', 5, 9, 'used twice'],
  ['reserved id end', ok('  - id: end\n    answer: {}\n'), 'SB_FLOW_DUPLICATE_ID', 3, 9, 'reserved'],
  ['bad step id', ok('  - id: 1st\n    answer: {}\n'), 'SB_FLOW_SCHEMA', 3, 9, 'id must be a word'],
  ['goto to an unknown id', ok('  - id: top\n    answer: {}\n  - goto: tpo\n'), 'SB_FLOW_UNKNOWN_TARGET', 5, 11, 'did you mean "top"'],
  ['on: to an unknown id', ok('  - id: p\n    play: a.wav\n    on: { interrupted: menu }\n  - hangup\n'), 'SB_FLOW_UNKNOWN_TARGET', 5, 24, 'no step with id "menu"'],
  ['on: an outcome the step does not have', ok('  - id: p\n    play: a.wav\n    on: { busy: p }\n'), 'SB_FLOW_UNKNOWN_OUTCOME', 5, 11, 'has no outcome "busy"'],
  ['on: that is not a mapping', ok('  - id: p\n    play: a.wav\n    on: p\n'), 'SB_FLOW_SCHEMA', 5, 9, 'on: must map outcomes'],
  ['unreachable step after hangup', ok('  - answer\n  - hangup\n  - play: a.wav\n'), 'SB_FLOW_UNREACHABLE', 5, 5, 'can never run'],
  ['unreachable step after goto', ok('  - id: top\n    answer: {}\n  - goto: top\n  - hangup\n'), 'SB_FLOW_UNREACHABLE', 6, 5, 'can never run'],
  ['unknown variable', 'name: t\nvars: { greeting: a.wav }\nsteps:\n  - play: "${vars.greting}"\n', 'SB_FLOW_UNKNOWN_VARIABLE', 4, 11, 'did you mean "greeting"'],
  ['unknown template root', ok('  - play: "${var.x}"\n'), 'SB_FLOW_UNKNOWN_VARIABLE', 3, 11, 'unknown template root "var"'],
  ['unknown call field', ok('  - play: "${call.callerid}.wav"\n'), 'SB_FLOW_UNKNOWN_VARIABLE', 3, 11, 'unknown call field'],
  ['steps reference to an unknown id', ok('  - play: "${steps.menu.digits}.wav"\n'), 'SB_FLOW_UNKNOWN_VARIABLE', 3, 11, 'no step with id "menu"'],
  ['a step that is neither word nor mapping', ok('  - 42\n'), 'SB_FLOW_SCHEMA', 3, 5, 'must be a plugin name or a mapping, not number'],
  ['a null step', ok('  - \n  - answer\n'), 'SB_FLOW_SCHEMA', 3, 3, 'must be a plugin name or a mapping, not null'],
  ['bad trigger', 'name: t\ntrigger: sometimes\nsteps:\n  - answer\n', 'SB_FLOW_SCHEMA', 2, 10, 'must be one of inbound, outbound'],
];

describe('compileFlow: broken flows are reported like a compiler', () => {
  it('has at least 25 cases', () => expect(BROKEN.length).toBeGreaterThanOrEqual(25));

  it.each(BROKEN)('%s', (_label, yaml, code, line, column, fragment) => {
    const { plan, diagnostics } = compileFlow(yaml, 'flows/t.yaml', host, {});
    const errors = diagnostics.filter((d) => d.severity === 'error');
    expect(plan).toBeUndefined();
    expect(errors.length, diagnostics.map(formatDiagnostic).join('\n')).toBeGreaterThan(0);
    const first = errors[0]!;
    expect({ code: first.code, line: first.line, column: first.column }, formatDiagnostic(first)).toEqual({ code, line, column });
    expect(first.message).toContain(fragment);
  });

  it('reports every error of a file, not just the first, formatted file:line:col CODE message', () => {
    const { diagnostics } = compileFlow(ok('  - grete: a.wav\n  - hangup: { cuase: X }\n  - play\n'), 'flows/t.yaml', host, {});
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'flows/t.yaml:3:5  SB_FLOW_UNKNOWN_STEP  unknown step "grete" (did you mean "greet"?)',
      'flows/t.yaml:4:15  SB_FLOW_BAD_OPTION  step "hangup": unknown option "cuase" (did you mean "cause"?)',
      'flows/t.yaml:5:5  SB_FLOW_BAD_OPTION  step "play": missing option "file"',
    ]);
  });

  it('warns (not fails) about an unset environment variable without a default', () => {
    const { plan, diagnostics } = compileFlow(ok('  - play: "${env.SB_TEST_UNSET_VAR}"\n  - play: "${env.SB_TEST_UNSET_VAR:-a.wav}"\n'), 'flows/t.yaml', host, {});
    expect(plan).toBeDefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ severity: 'warning', code: 'SB_FLOW_UNKNOWN_VARIABLE', line: 3 });
  });
});

describe('compileFlow: plans', () => {
  it('compiles to an immutable plan with shorthands, defaults and links resolved', () => {
    const { plan, diagnostics } = compileFlow(
      `name: desk
match: { destination: ["7000", "+1555*"] }
vars: { greeting: welcome.wav }
steps:
  - answer
  - id: hello
    greet: "\${vars.greeting}"
    on: { interrupted: bye }
  - wait: 1
  - id: bye
    hangup: USER_BUSY
on_hangup:
  - set: { vars: { done: true } }
`,
      'flows/desk.yaml',
      host,
      {},
    );
    expect(diagnostics).toEqual([]);
    expect(plan).toBeDefined();
    const p = plan!;
    expect(Object.isFrozen(p) && Object.isFrozen(p.steps) && Object.isFrozen(p.steps[1]!.options)).toBe(true);
    expect(p.match.destination).toEqual(['7000', '+1555*']);
    expect(p.steps.map((s) => [s.id, s.name, s.next])).toEqual([
      ['steps[0]:answer', 'answer', 1],
      ['hello', 'greet', 2],
      ['steps[2]:wait', 'wait', 3],
      ['bye', 'hangup', null],
      ['on_hangup[0]:set', 'set', null],
    ]);
    expect(p.steps[1]!.options).toEqual({ file: '${vars.greeting}', barge_in: false, loops: 1 });
    expect(p.steps[1]!.on).toEqual({ interrupted: 3 });
    expect(p.steps[3]!.options).toEqual({ cause: 'USER_BUSY' });
    expect(p.entry).toEqual({ steps: 0, on_error: null, on_hangup: 4 });
  });
});
