import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeSwitchSim } from '../../test/support/freeswitch-sim/index.ts';
import { newApiKey } from '../api/api-keys.ts';
import { loadConfig, PROJECT_ROOT } from '../config.ts';
import { silentLogger } from '../log.ts';
import { Service } from '../service.ts';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'bin/switchboard.js');

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('switchboard CLI', () => {
  it('validate: exit 0 and a one-line summary for the bundled flows', async () => {
    const r = await cli(['validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: \d+ files, \d+ flows: 0 errors, 0 warnings\n$/);
  });

  it('validate: exit 1 with every error, compiler-style; --format json for CI tools', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nsteps:\n  - grete: hi.wav\n  - transfer: { to: "1001", mdoe: blind }\n');
    const r = await cli(['validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(':3:5  SB_FLOW_UNKNOWN_STEP  unknown step "grete" (did you mean "greet"?)');
    expect(r.stderr).toContain(':4:29  SB_FLOW_BAD_OPTION  step "transfer": unknown option "mdoe" (did you mean "mode"?)');
    expect(r.stderr).toMatch(/failed: 1 file, 0 flows: 2 errors/);
    const j = await cli(['validate', '--format', 'json', bad]);
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout) as { ok: boolean; diagnostics: Array<{ code: string; line: number }> };
    expect(parsed.ok).toBe(false);
    expect(parsed.diagnostics.map((d) => [d.code, d.line])).toEqual([['SB_FLOW_UNKNOWN_STEP', 3], ['SB_FLOW_BAD_OPTION', 4]]);
  });

  it('plugins: lists steps with kind, version and folder', async () => {
    const r = await cli(['plugins']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^transfer\s+step\s+1\.0\.0\s+plugins\/transfer$/m);
  });

  it('schema --stdout prints what is committed', async () => {
    const r = await cli(['schema', '--stdout']);
    expect(r.stdout).toBe(readFileSync(join(PROJECT_ROOT, 'schemas/flow.schema.json'), 'utf8'));
  });

  it('simulate: runs a flow on the simulator, prints the timeline, exit code says whether it ended as expected', async () => {
    const r = await cli(['simulate', 'flows/ivr-menu.yaml', '--dtmf', '1', '--speed', '200']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('▶ gather (menu)');
    expect(r.stdout).toContain('caller presses 1');
    expect(r.stdout).toMatch(/esl →\s+api uuid_transfer \S+ 2001 XML default/);
    expect(r.stdout).toMatch(/ok: flow ended "completed"/);
    const hang = await cli(['simulate', 'flows/ivr-menu.yaml', '--hangup-after', '1', '--speed', '200', '--expect', 'completed']);
    expect(hang.code).toBe(1);
    expect(hang.stdout).toMatch(/unexpected: flow ended "hangup"/);
  });

  it('reload: asks the running service to reload; a broken change is rejected with its errors', async () => {
    const sim = await FreeSwitchSim.start({ timeScale: 0.01 });
    const flows = join(dir, 'flows');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(flows);
    writeFileSync(join(flows, 'a.yaml'), 'name: a\ndefault: true\nsteps:\n  - answer\n');
    const { key, entry } = newApiKey('ops');
    const service = new Service({ config: loadConfig({ SB_ESL_PORT: String(sim.port), SB_OUTBOUND_PORT: '0', SB_HTTP_PORT: '0', SB_MEDIA_PORT: '0', SB_FLOWS_DIR: flows, SB_API_KEYS: entry }), logger: silentLogger });
    await service.start();
    try {
      const url = `http://127.0.0.1:${service.http?.port}`;
      writeFileSync(join(flows, 'b.yaml'), 'name: b\nmatch: { destination: ["7000"] }\nsteps:\n  - hangup\n');
      const refused = await cli(['reload', '--url', url], { SB_API_KEY: 'wrong' });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('SB_API_UNAUTHORIZED');
      const ok = await cli(['reload', '--url', url], { SB_API_KEY: key });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toBe('reloaded: a, b\n');
      writeFileSync(join(flows, 'b.yaml'), 'name: b\nsteps:\n  - hangupp\n');
      const bad = await cli(['reload', '--url', url], { SB_API_KEY: key });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('SB_FLOW_UNKNOWN_STEP');
      expect(service.flows.get('b')?.steps[0]?.name).toBe('hangup');
    } finally {
      await service.close();
      await sim.close();
    }
  });
});

describe('switchboard simulate with a Nova conversation', () => {
  it('plays the scripted conversation through the Nova Sonic emulator and prints the transcript', async () => {
    const r = await cli(['simulate', 'flows/nova-front-desk.yaml', '--to', '7500', '--conversation', 'docs/examples/nova-front-desk.conversation.yaml', '--speed', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('caller says "Can I talk to a person, please?"');
    expect(r.stdout).toMatch(/✓ nova → transfer/);
    expect(r.stdout).toContain('transcript of assistant:\n  caller: What time is it?\n  bot: It is a little after noon.');
    expect(r.stdout).toMatch(/esl →\s+execute bridge \{call_timeout=20\}user\/1001/);
  });
});
