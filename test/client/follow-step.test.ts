/**
 * `followStep` through a real PostgreSQL outage: reads fail while the server
 * is down, and the follower goes on from the last seq it gave once it is back,
 * missing no event and giving none twice.
 */
import { followStep } from '../../src/client';
import { PostgresSessionStore } from '../../src/stores/postgres-store';
import type { StepEvent, UnnumberedEvent } from '../../src/transcripts/events';
import { type TestPostgres, startPostgres } from '../support/postgres';

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());

const key = { workflowId: 'wf-follow', taskId: 'step' };
const turn = (round: number): UnnumberedEvent => ({ kind: 'turn-start', round, attempt: 1, timeMs: round });

test('a follower resumes from its last seq when the store comes back', async () => {
  const store = await PostgresSessionStore.connect(`${pg.url}?query_timeout=2000`);
  try {
    await store.transcripts.appendTranscript(key, [turn(1), turn(2)]);
    const errors: unknown[] = [];
    const seen: StepEvent[] = [];
    const follower = (async () => {
      for await (const event of followStep(store, key.workflowId, key.taskId, {
        pollMs: 50,
        onError: (error) => errors.push(error),
      })) {
        seen.push(event);
        if (event.seq === 2) pg.stop();
      }
    })();
    await waitFor(() => errors.length >= 2);
    pg.start();
    await store.transcripts.appendTranscript(key, [
      turn(3),
      { kind: 'attempt-end', result: 'success', attempt: 1, timeMs: 4 },
    ]);
    await follower;
    expect(seen.map((e) => [e.seq, e.kind])).toEqual([
      [1, 'turn-start'],
      [2, 'turn-start'],
      [3, 'turn-start'],
      [4, 'attempt-end'],
    ]);
    expect(String(errors[0])).toMatch(
      /postgres checkpoint store at postgres:\/\/tao:\*\*\*@127\.0\.0\.1:\d+\/postgres/,
    );
  } finally {
    await store.close();
  }
}, 60_000);

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
