import { readFileSync, readdirSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import * as productWorkflows from '../../src/workflows';
import { workflowBundle } from '../support/temporal';
import { HISTORY_DIR, SCENARIOS, historyFile, scenarioWorkflowId } from './scenarios';

/**
 * Every recorded history replays against today's workflow code without
 * non-determinism. A workflow change that breaks this needs `patched()`, or a
 * deliberate re-record (`npm run histories:record`) when no run of the old
 * code can still be open.
 */
describe('replay of recorded histories', () => {
  test('the recorded set is exactly the scenarios, covering every workflow type', () => {
    const recorded = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));
    expect(recorded.sort()).toEqual(SCENARIOS.map((s) => `${s.name}.json`).sort());
    const types = new Set(SCENARIOS.map((s) => s.workflowType));
    for (const [name, value] of Object.entries(productWorkflows)) {
      if (typeof value === 'function' && name.endsWith('Workflow')) expect(types).toContain(name);
    }
  });

  test('every history replays without non-determinism', async () => {
    const histories = SCENARIOS.map((s) => ({
      workflowId: scenarioWorkflowId(s.name),
      history: JSON.parse(readFileSync(historyFile(s.name), 'utf8')),
    }));
    const results = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, histories)) {
      results.push({ workflowId: result.workflowId, error: result.error ? String(result.error) : undefined });
    }
    expect(results).toEqual(
      SCENARIOS.map((s) => ({ workflowId: scenarioWorkflowId(s.name), error: undefined })),
    );
  });
});
