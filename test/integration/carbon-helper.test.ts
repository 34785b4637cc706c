// The carbon helper itself: lines sent to a real carbon-cache read back from whisper.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';

describeCarbon('carbon test server', () => {
  let carbon: Carbon;
  beforeAll(async () => {
    carbon = await Carbon.start();
  });
  afterAll(async () => {
    await carbon?.destroy();
  });

  it('stores plaintext lines and reads them back', async () => {
    const now = Math.floor(Date.now() / 1000);
    await carbon.send(`helper.check 1 ${now - 2}\nhelper.check 2.5 ${now - 1}\n`);
    await carbon.flush();
    expect(await carbon.fetch('helper.check', now - 60)).toEqual([
      [now - 2, 1],
      [now - 1, 2.5],
    ]);
    expect(await carbon.list()).toContain('helper.check');
  });
});
