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
