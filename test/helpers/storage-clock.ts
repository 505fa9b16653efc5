// Waiting out a storage's clock margin (StorageDriver.clockMarginMs): garbage collection keeps
// anything used within it of its start, so a test that wants what it just wrote collected waits
// until storage's own clock has moved past it. A wait for a condition, not a guess: it reads the
// times storage stamps.
import type { StorageDriver } from '../../storage/drivers/driver.js';

const PROBE = '_gc/clock-probe';

async function stamp(driver: StorageDriver): Promise<number> {
  await driver.putContent(PROBE, String(Date.now()));
  return (await driver.stat(PROBE)).modifiedAt.getTime();
}

export async function outlastClockMargin(driver: StorageDriver): Promise<void> {
  if (driver.clockMarginMs === 0) return;
  const start = await stamp(driver);
  while ((await stamp(driver)) <= start + driver.clockMarginMs) await new Promise((resolve) => setTimeout(resolve, 200));
  await driver.delete(PROBE);
}
