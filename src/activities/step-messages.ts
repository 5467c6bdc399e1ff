/**
 * How a step's attempt reads the messages people sent it (the run's
 * `message` Update, src/workflows/lib/messages.ts): a query to its own
 * workflow execution, through the client the worker gives its activities.
 * The executor asks before each model call with the number of the last
 * message its conversation holds, so the query carries nothing the step has
 * already read. A query that fails or does not answer in time (the run's
 * workflow worker busy or gone) yields none this time: the messages stay
 * with the run and come with the next call.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { StepMessage } from '../contracts';

const QUERY_TIMEOUT_MS = 10_000;

const MessagesSchema = z.array(z.object({ seq: z.number().int().positive(), text: z.string() }));

export type ReadMessages = (after: number) => Promise<StepMessage[]>;

export function stepMessagesReader(
  client: () => Client,
  execution: { workflowId: string; runId: string },
  taskId: string,
  warn: (message: string, error: unknown) => void,
): ReadMessages {
  return async (after) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const handle = client().workflow.getHandle(execution.workflowId, execution.runId);
      const answer = await Promise.race([
        handle.query<unknown, [{ taskId: string; after: number }]>('stepMessages', { taskId, after }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer in ${QUERY_TIMEOUT_MS} ms`)),
            QUERY_TIMEOUT_MS,
          );
        }),
      ]);
      return MessagesSchema.parse(answer);
    } catch (error) {
      warn('could not read the step’s messages; they come with its next model call', error);
      return [];
    } finally {
      clearTimeout(timer);
    }
  };
}
