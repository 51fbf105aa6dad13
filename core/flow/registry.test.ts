import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { PluginHost } from '../plugins/host.ts';
import { FlowRegistry, flowFiles, loadFlows, type LoadResult } from './registry.ts';

let host: PluginHost;
let dir: string;
beforeAll(async () => {
  host = await PluginHost.load(loadConfig().pluginDirs);
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-flows-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const flow = (name: string, match: string, extra = ''): string => `name: ${name}\n${match}\nsteps:\n  - answer\n${extra}`;
const write = (file: string, text: string): string => {
  writeFileSync(join(dir, file), text);
  return join(dir, file);
};
const call = (destination: string, extra: Partial<{ context: string; domain: string; direction: 'inbound' | 'outbound' }> = {}) => ({ destination, context: 'default', domain: undefined, direction: 'inbound' as const, ...extra });

describe('loadFlows across files', () => {
  it('refuses two flows with one name, two flows claiming one destination, and two defaults', () => {
    const files = [
      write('a.yaml', flow('a', 'match: { destination: ["7000"] }\ndefault: true')),
      write('b.yaml', flow('a', 'match: { destination: ["7001"] }')),
      write('c.yaml', flow('c', 'match: { destination: ["7000"] }\ndefault: true')),
    ];
    const r = loadFlows(files, host, dir);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map((d) => [d.file, d.code])).toEqual([
      ['b.yaml', 'SB_FLOW_DUPLICATE_NAME'],
      ['c.yaml', 'SB_FLOW_DUPLICATE_MATCH'],
      ['c.yaml', 'SB_FLOW_DUPLICATE_MATCH'],
    ]);
  });

  it('allows the same destination in different FusionPBX domains', () => {
    const files = [write('a.yaml', flow('a', 'match: { destination: ["7000"], domain: [a.example.com] }')), write('b.yaml', flow('b', 'match: { destination: ["7000"], domain: [b.example.com] }'))];
    expect(loadFlows(files, host, dir).ok).toBe(true);
  });
});

describe('routing', () => {
  it('exact beats the longest prefix beats a regex beats the default; domains and direction are respected', () => {
    write('exact.yaml', flow('exact', 'match: { destination: ["+15551234567"] }'));
    write('prefix.yaml', flow('prefix', 'match: { destination: ["+1555*"] }'));
    write('longer.yaml', flow('longer', 'match: { destination: ["+155512*"] }'));
    write('regex.yaml', flow('regex', 'match: { destination: ["/^[0-9]{4}$/"] }'));
    write('acme.yaml', flow('acme', 'match: { destination: ["1000"], domain: [acme.example.com] }'));
    write('fallback.yaml', flow('fallback', 'default: true'));
    const reg = new FlowRegistry([dir], host);
    expect(reg.reload().ok).toBe(true);
    expect(reg.route(call('+15551234567'))?.name).toBe('exact');
    expect(reg.route(call('+15551299999'))?.name).toBe('longer');
    expect(reg.route(call('+15559999999'))?.name).toBe('prefix');
    expect(reg.route(call('1000'))?.name).toBe('regex');
    expect(reg.route(call('1000', { domain: 'acme.example.com' }))?.name).toBe('acme');
    expect(reg.route(call('42'))?.name).toBe('fallback');
  });
});

describe('FlowRegistry reload', () => {
  it('swaps plans atomically: a call keeps the plan it started with; a broken change keeps the old plans live', () => {
    write('desk.yaml', flow('desk', 'match: { destination: ["7000"] }'));
    const reg = new FlowRegistry([dir], host);
    reg.reload();
    const before = reg.route(call('7000'));
    write('desk.yaml', flow('desk', 'match: { destination: ["7000"] }', '  - hangup\n'));
    expect(reg.reload().ok).toBe(true);
    const after = reg.route(call('7000'));
    expect(after).not.toBe(before);
    expect(before?.steps).toHaveLength(1);
    expect(after?.steps).toHaveLength(2);
    write('desk.yaml', 'name: desk\nsteps:\n  - hangupp\n');
    const rejected = reg.reload();
    expect(rejected.ok).toBe(false);
    expect(rejected.diagnostics[0]?.code).toBe('SB_FLOW_UNKNOWN_STEP');
    expect(reg.route(call('7000'))).toBe(after);
    expect(reg.generation).toBe(2);
  });

  it('watches the folder and reloads on change', async () => {
    write('desk.yaml', flow('desk', 'match: { destination: ["7000"] }'));
    const reg = new FlowRegistry([dir], host);
    reg.reload();
    const reloaded = new Promise<LoadResult>((resolve) => reg.watch(resolve));
    try {
      write('new.yaml', flow('fresh', 'match: { destination: ["7001"] }'));
      const r = await reloaded;
      expect(r.ok).toBe(true);
      expect(reg.get('fresh')).toBeDefined();
    } finally {
      reg.close();
    }
  });

  it('lists yaml files recursively and skips hidden folders', () => {
    write('a.yaml', flow('a', ''));
    expect(flowFiles([dir]).map((f) => f.slice(dir.length + 1))).toEqual(['a.yaml']);
  });
});
