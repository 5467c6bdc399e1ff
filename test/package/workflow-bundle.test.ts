/**
 * The workflow bundle the package ships, as the package build makes it: its
 * code in ASCII and its source map without the sources' text, which a worker
 * holds several copies of, naming each module by its path in its package, not
 * where the build ran; and a worker on it still traces a waiting run to the
 * line of TAO's workflow code it waits at.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ScriptExecutor } from '../../src/executors/script';
import type { Progress } from '../../src/workflows/lib';
import { builtPackage } from '../support/cli';
import { eventually } from '../support/gate-executor';
import { spec } from '../support/specs';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const shipped = () => join(builtPackage(), 'dist', 'workflow-bundle.js');

test('the shipped bundle is ASCII, and its source map names each module by its package path, without its text', () => {
  const code = readFileSync(shipped(), 'utf8');
  expect(code).not.toMatch(/[\u0080-\uffff]/);
  const at = code.lastIndexOf('//# sourceMappingURL=data:application/json');
  expect(at).toBeGreaterThan(0);
  const map = JSON.parse(Buffer.from(code.slice(code.indexOf('base64,', at) + 7), 'base64').toString()) as {
    sources: string[];
    sourcesContent?: unknown;
    mappings: string;
  };
  expect(map.sources).toContain('tao/dist/workflows/lib/steps.js');
  expect(map.sources).toContain('@temporalio/workflow/src/internals.ts');
  expect(map.sources.filter((source) => isAbsolute(source))).toEqual([]);
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
      expect(trace).toMatch(/ \(tao\/dist\/workflows\/lib\/approvals\.js:\d+:\d+\)/);
      expect(trace).not.toContain(builtPackage());
    } finally {
      await handle.terminate();
    }
  });
});
