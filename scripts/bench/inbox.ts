/**
 * `tao pending` in a namespace shared with another team: `foreign` running
 * workflows that are not TAO's, on a task queue no worker polls (the case of
 * issue #34), beside one TAO run with two steps waiting for approval. The
 * inbox as it is (one visibility query for the runs whose `TaoWaitingSteps`
 * is set, then only those asked) against asking every running workflow, as
 * it did before.
 */
import type { Client } from '@temporalio/client';
import { pendingDecisions } from '../../src/client';
import { fetchProgress } from '../../src/client/fetch-progress';

export interface InboxFigures {
  foreign: number;
  /** Waiting steps the inbox listed: 2 when right. */
  listed: number;
  /** Median of {@link ROUNDS} reads of the inbox (prompts included, as `tao pending` reads them). */
  visibilityMs: number;
  /** One read asking every running workflow for its progress, each within the 3 s deadline. */
  everyRunMs: number;
  everyRunUnanswered: number;
}

const ROUNDS = 5;
const BATCH = 50;

export async function inboxBesideForeign(
  client: Client,
  taskQueue: string,
  foreign: number,
): Promise<InboxFigures> {
  const nobody = `bench-other-team-${Date.now()}`;
  const others = [];
  for (let i = 0; i < foreign; i += BATCH) {
    others.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(BATCH, foreign - i) }, (_, j) =>
          client.workflow.start('otherTeamWorkflow', { taskQueue: nobody, workflowId: `${nobody}-${i + j}` }),
        ),
      )),
    );
  }
  const run = await client.workflow.start('parallelWorkflow', {
    taskQueue,
    workflowId: `bench-inbox-${Date.now()}`,
    args: [
      {
        specs: ['deploy', 'migrate'].map((taskId) => ({
          taskId,
          agent: 'bench',
          prompt: taskId,
          approval: { before: true },
        })),
      },
    ],
  });
  try {
    // Until visibility has the run's attribute.
    while ((await pendingDecisions(client)).pending.length < 2) await sleep(100);
    const times: number[] = [];
    let listed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      listed = (await pendingDecisions(client, { withText: true })).pending.length;
      times.push(performance.now() - start);
    }
    const start = performance.now();
    const everyRunUnanswered = await askEveryRunningWorkflow(client);
    const everyRunMs = performance.now() - start;
    return {
      foreign,
      listed,
      visibilityMs: times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!,
      everyRunMs,
      everyRunUnanswered,
    };
  } finally {
    await run.terminate('bench over');
    for (let i = 0; i < others.length; i += BATCH)
      await Promise.all(others.slice(i, i + BATCH).map((handle) => handle.terminate('bench over')));
  }
}

/** The inbox before: every running workflow asked for its progress at once; how many did not answer. */
async function askEveryRunningWorkflow(client: Client): Promise<number> {
  const asks: Promise<unknown>[] = [];
  for await (const found of client.workflow.list({ query: 'ExecutionStatus = "Running"' }))
    asks.push(fetchProgress(client.workflow.getHandle(found.workflowId, found.runId)));
  return (await Promise.all(asks)).filter((progress) => progress === undefined).length;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
