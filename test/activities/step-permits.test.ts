/** The worker's step permits on their own: a bound, a fair queue, and waiters that can leave. */
import { StepPermits } from '../../src/activities/step-permits';

const never = new AbortController().signal;

test('at most `size` holders; a release passes the permit to the longest waiter', async () => {
  const permits = new StepPermits(2);
  const first = await permits.acquire(never);
  await permits.acquire(never);
  const order: string[] = [];
  const third = permits.acquire(never).then((release) => (order.push('third'), release));
  const fourth = permits.acquire(never).then((release) => (order.push('fourth'), release));
  expect(permits.inUse).toBe(2);
  first();
  first(); // a second release of the same permit frees nothing more
  (await third)();
  await fourth;
  expect(order).toEqual(['third', 'fourth']);
  expect(permits.inUse).toBe(2);
});

test('a waiter whose signal aborts leaves the queue with its reason and holds nothing', async () => {
  const permits = new StepPermits(1);
  const held = await permits.acquire(never);
  const controller = new AbortController();
  const leaving = permits.acquire(controller.signal);
  const staying = permits.acquire(never);
  controller.abort(new Error('activity cancelled'));
  await expect(leaving).rejects.toThrow('activity cancelled');
  held();
  (await staying)();
  expect(permits.inUse).toBe(0);
  await expect(permits.acquire(controller.signal)).rejects.toThrow('activity cancelled');
  expect(permits.inUse).toBe(0);
});
