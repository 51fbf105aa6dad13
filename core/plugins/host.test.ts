import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { PluginHost } from './host.ts';

const fixtures = new URL('../../test/fixtures/', import.meta.url).pathname;

describe('PluginHost', () => {
  it('discovers the bundled step plugins', async () => {
    const host = await PluginHost.load(loadConfig().pluginDirs);
    expect(host.problems).toEqual([]);
    expect([...host.steps.keys()]).toEqual(expect.arrayContaining(['answer', 'greet', 'play', 'gather', 'record', 'transfer', 'bridge', 'conference', 'hangup', 'set', 'branch', 'webhook', 'wait']));
  });

  it('loads plugins from extra folders, and reports broken ones with their path without stopping the others', async () => {
    const host = await PluginHost.load([...loadConfig().pluginDirs, join(fixtures, 'plugins'), join(fixtures, 'broken-plugins')]);
    expect(host.steps.has('say-digits')).toBe(true);
    const bySource = Object.fromEntries(host.problems.map((p) => [p.source.split('/').pop(), p.message]));
    expect(bySource).toEqual({
      'bad-schema': expect.stringContaining('options schema does not compile'),
      'dup-answer': expect.stringContaining('duplicate plugin name "answer"'),
      'import-error': expect.stringContaining('cannot be imported'),
      'no-meta': expect.stringContaining('no default export with a `meta` manifest'),
      'old-engine': expect.stringContaining('needs Switchboard ^9'),
    });
    expect(host.problems.every((p) => p.code === 'SB_PLUGIN_INVALID')).toBe(true);
    expect(host.steps.get('answer')?.plugin.meta.version).toBe('1.0.0');
  });

  it('reports a missing plugin directory', async () => {
    const host = await PluginHost.load([join(fixtures, 'nowhere')]);
    expect(host.problems[0]?.message).toBe('plugin directory does not exist');
  });
});

describe('PluginHost: npm packages', () => {
  it('loads a plugin published as a package, by name, and reports one that is not installed', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sb-pkg-'));
    try {
      const pkg = join(cwd, 'node_modules', 'sb-plugin-hello');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'sb-plugin-hello', version: '1.2.3', main: 'index.mjs' }));
      writeFileSync(
        join(pkg, 'index.mjs'),
        "export default { meta: { name: 'hello', kind: 'step', version: '1.2.3', engine: '^0.1', description: 'says hello', schema: { type: 'object' } }, create: () => ({ run: async () => ({ outcome: 'ok' }) }) };\n",
      );
      const host = await PluginHost.load(['sb-plugin-hello', 'sb-plugin-missing'], cwd);
      expect(host.steps.get('hello')?.plugin.meta.version).toBe('1.2.3');
      expect(host.problems).toEqual([{ source: 'sb-plugin-missing', code: 'SB_PLUGIN_INVALID', message: 'npm package "sb-plugin-missing" is not installed (npm install sb-plugin-missing)' }]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
