import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig, loadDotEnv } from './config.ts';

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c.esl).toMatchObject({ host: '127.0.0.1', port: 8021, password: 'ClueCon' });
    expect(c.outbound).toEqual({ host: '127.0.0.1', port: 8084 });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(configWarnings(c)).toEqual([]);
  });

  it('warns loudly about the default password on a non-loopback host, not on loopback or with a real password', () => {
    expect(configWarnings(loadConfig({ SB_ESL_HOST: '10.0.0.5' }))[0]).toMatch(/ClueCon.*not a loopback/);
    expect(configWarnings(loadConfig({ SB_ESL_HOST: '::1' }))).toEqual([]);
    expect(configWarnings(loadConfig({ SB_ESL_HOST: '10.0.0.5', SB_ESL_PASSWORD: 'x9-strong' }))).toEqual([]);
  });

  it('refuses bad numbers with SB_CONFIG_INVALID', () => {
    expect(() => loadConfig({ SB_ESL_PORT: 'eighty' })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
    expect(() => loadConfig({ SB_HTTP_PORT: '70000' })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('webhook secrets: several for rotation, comma-separated; a short one or zero attempts is refused', () => {
    expect(loadConfig({}).webhooks).toEqual({ secrets: [], timeoutMs: 5000, attempts: 10, backoffMs: 1000, concurrency: 20 });
    expect(loadConfig({ SB_WEBHOOK_SECRET: 'new-secret-0123456789, old-secret-0123456789' }).webhooks.secrets).toEqual(['new-secret-0123456789', 'old-secret-0123456789']);
    expect(() => loadConfig({ SB_WEBHOOK_SECRET: 'short' })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
    expect(() => loadConfig({ SB_WEBHOOK_ATTEMPTS: '0' })).toThrow(expect.objectContaining({ code: 'SB_CONFIG_INVALID' }));
  });

  it('reads .env without overriding the real environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'SB_TEST_FROM_DOTENV=yes\nSB_TEST_ALREADY_SET=dotenv\n');
      process.env.SB_TEST_ALREADY_SET = 'env';
      loadDotEnv(join(dir, '.env'));
      expect(process.env.SB_TEST_FROM_DOTENV).toBe('yes');
      expect(process.env.SB_TEST_ALREADY_SET).toBe('env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      delete process.env.SB_TEST_FROM_DOTENV;
      delete process.env.SB_TEST_ALREADY_SET;
    }
  });
});
