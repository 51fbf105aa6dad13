import { it } from 'vitest';
import { CallQueue } from './index.ts';
import { silentLogger } from '../log.ts';
it('down', async () => {
  const q = new CallQueue({ connection: 'redis://127.0.0.1:1', logger: silentLogger });
  const t0 = Date.now();
  const err = await q.add({ to: '1001', flow: 'desk' }).catch((e) => e);
  console.log('ADD', Date.now() - t0, err?.code, err?.message);
  const t1 = Date.now();
  const err2 = await q.get('c-x').catch((e) => e);
  console.log('GET', Date.now() - t1, err2?.code, err2?.message);
  const t2 = Date.now();
  await q.close();
  console.log('CLOSE', Date.now() - t2);
}, 60000);
