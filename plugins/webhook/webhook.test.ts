import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testStep } from '../../test/support/step-tester.ts';

let server: Server;
let base = '';
const seen: Array<{ url: string; body: string; signature: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', body, signature: req.headers['x-switchboard-signature'] as string | undefined });
      if (req.url === '/vip') return res.end(JSON.stringify({ outcome: 'vip', vars: { name: 'Ada' } }));
      if (req.url === '/slow') return setTimeout(() => res.end('{}'), 2000);
      if (req.url === '/broken') return res.writeHead(500).end('oops');
      if (req.url === '/text') return res.end('not json');
      res.end('');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.SB_TEST_WEBHOOK_BASE = base;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const flow = (path: string, extra = ''): string => `name: t
vars: { name: nobody }
steps:
  - id: hook
    webhook: { url: "\${env.SB_TEST_WEBHOOK_BASE:-http://127.0.0.1:9}${path}", timeout: 0.5${extra} }
    on: { vip: vip, timeout: slow, failed: failed }
  - hangup
  - id: vip
    play: "\${vars.name}.wav"
  - hangup
  - id: slow
    hangup: RECOVERY_ON_TIMER_EXPIRE
  - id: failed
    hangup: NORMAL_TEMPORARY_FAILURE
`;

testStep('webhook', [
  {
    name: 'the JSON answer picks the outcome and sets variables; the body is signed',
    flow: flow('/vip', ', secret: s3cret, data: { campaign: spring }'),
    call: { from: '+15550001111' },
    expect: { includes: [/playback .*\/Ada\.wav$/] },
  },
  { name: 'a slow server ends with outcome timeout', flow: flow('/slow'), expect: { includes: ['hangup RECOVERY_ON_TIMER_EXPIRE'] } },
  { name: 'a 500 ends with outcome failed', flow: flow('/broken'), expect: { includes: ['hangup NORMAL_TEMPORARY_FAILURE'] } },
  { name: 'an answer that is not JSON ends with outcome failed', flow: flow('/text'), expect: { includes: ['hangup NORMAL_TEMPORARY_FAILURE'] } },
  { name: 'an empty answer is outcome ok', flow: flow('/empty'), expect: { commands: ['hangup NORMAL_CLEARING'] } },
  { name: 'only http(s) URLs', options: { url: 'file:///etc/passwd' }, error: 'SB_FLOW_BAD_OPTION' },
]);

it('sent the call context, signed with HMAC-SHA256', () => {
  const hit = seen.find((s) => s.url === '/vip');
  expect(hit).toBeDefined();
  const body = JSON.parse(hit!.body) as { call: { caller: string }; flow: string; data: { campaign: string } };
  expect(body.call.caller).toBe('+15550001111');
  expect(body.flow).toBe('t');
  expect(body.data.campaign).toBe('spring');
  expect(hit!.signature).toBe(`sha256=${createHmac('sha256', 's3cret').update(hit!.body).digest('hex')}`);
});
