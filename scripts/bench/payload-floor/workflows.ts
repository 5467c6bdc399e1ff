/**
 * The floor of the payloads section: a workflow that takes a run's specs and
 * returns one echoing outcome per spec without running a step, so what it
 * costs a worker is what carrying the payloads through any workflow costs.
 */
import { sleep } from '@temporalio/workflow';

interface Spec {
  taskId: string;
  agent: string;
  prompt: string;
}

export async function echoWorkflow({ specs }: { specs: Spec[] }) {
  // A second workflow task, as a run's steps give it: the result is sent from a worker that held the input.
  await sleep(100);
  return specs.map(({ taskId, agent, prompt }) => ({ taskId, agent, success: true, output: prompt }));
}
