/**
 * The workflow bundle the package ships, as the package build makes it: its
 * code in ASCII and its source map without the sources' text, which a worker
 * holds several copies of; and a worker on it still traces a waiting run to
 * the line of TAO's workflow code it waits at.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { builtPackage } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const shipped = () => join(builtPackage(), 'dist', 'workflow-bundle.js');

test('the shipped bundle is ASCII, and its source map names the workflow sources without their text', () => {
  const code = readFileSync(shipped(), 'utf8');
  expect(code).not.toMatch(/[\u0080-\uffff]/);
  const at = code.lastIndexOf('//# sourceMappingURL=data:application/json');
  expect(at).toBeGreaterThan(0);
  const map = JSON.parse(Buffer.from(code.slice(code.indexOf('base64,', at) + 7), 'base64').toString()) as {
    sources: string[];
    sourcesContent?: unknown;
    mappings: string;
  };
  expect(map.sources).toContainEqual(expect.stringMatching(/\/workflows\/lib\/steps\.(js|ts)$/));
  expect(map.mappings.length).toBeGreaterThan(10_000);
  expect(map.sourcesContent).toBeUndefined();
});

test('a worker on it traces a run waiting for an approval to the workflow source line it waits at', async () => {
  const executor = new ScriptExecutor({});
  await withWorker({ executor, workflowBundle: { codePath: shipped() } }, async ({ client, taskQueue }) => {
    const handle = await client.workflow.start('parallelWorkflow', {
      taskQueue,
      workflowId: uniqueId('stack-trace'),
      args: [{ specs: [{ ...spec('gated'), approval: { before: true } }] }],
    });
    try {
      const trace = await eventually(async () => {
        const waiting = await handle.query<Progress>('progress');
        return waiting.steps[0]?.status === 'waiting' ? handle.query<string>('__stack_trace') : undefined;
      });
      expect(trace).toMatch(/\/workflows\/lib\/approvals\.(js|ts):\d+:\d+/);
    } finally {
      await handle.terminate();
    }
  });
});
