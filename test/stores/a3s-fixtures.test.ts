/**
 * Every a3s fixture loads exactly as its README says, through the file store
 * and through the workflow's `loadCheckpoint` activity.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCheckpointActivities } from '../../src/activities/checkpoint';
import type { CheckpointLoad } from '../../src/activity-api';
import type { WorkflowCheckpoint } from '../../src/contracts';
import { FileSessionStore } from '../../src/stores/file-store';
import { CheckpointUnreadableError } from '../../src/stores/session-store';

const FIXTURES = join(__dirname, '../fixtures/a3s-checkpoints');

type Expectation = { loads: (checkpoint: WorkflowCheckpoint) => void } | { rejected: RegExp };

const EXPECTED: Record<string, Expectation> = {
  'v1-two-steps.json': {
    loads: (c) => {
      expect(c.schemaVersion).toBe(1);
      expect(c.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([
        ['a', 'cached-a'],
        ['b', 'cached-b'],
      ]);
      expect(c.steps[0]!.outcome).not.toHaveProperty('structured');
      expect(c.steps[1]!.outcome.structured).toEqual({ verdict: 'ok', findings: [] });
    },
  },
  'v0-no-schema-version.json': {
    loads: (c) => {
      expect(c.schemaVersion).toBe(0);
      expect(c.steps).toEqual([]);
    },
  },
  'legacy-outcome-minimal.json': {
    loads: (c) => {
      expect(c.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([['t1', 'legacy']]);
      expect(c.steps[0]!.outcome).not.toHaveProperty('structured');
    },
  },
  'newer-fields.json': {
    loads: (c) => {
      expect(c.steps.map((s) => s.taskId)).toEqual(['t1']);
      expect(c.steps[0]!.outcome).not.toHaveProperty('source_anchors');
    },
  },
  'a3s-9.1.3-with-receipt.json': {
    loads: (c) => expect(c.steps.map((s) => [s.taskId, s.outcome.output])).toEqual([['a', 'rust:a']]),
  },
  'future-schema.json': { rejected: /schema version 2 is newer than 1/ },
  'task-id-mismatch.json': { rejected: /step t1 holds an outcome for task t2/ },
  'not-json.json': { rejected: /not JSON/ },
};

let dir: string;
let store: FileSessionStore;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tao-a3s-'));
  mkdirSync(join(dir, 'workflow_checkpoints'));
  for (const file of Object.keys(EXPECTED)) {
    copyFileSync(join(FIXTURES, file), join(dir, 'workflow_checkpoints', file));
  }
  store = new FileSessionStore(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const idOf = (file: string) => file.replace(/\.json$/, '');

test('every fixture is classified here (a new one must be added to the table)', () => {
  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  expect(fixtures.sort()).toEqual(Object.keys(EXPECTED).sort());
});

describe.each(Object.entries(EXPECTED))('%s', (file, expectation) => {
  test('through the file store', async () => {
    if ('loads' in expectation) expectation.loads((await store.load(idOf(file)))!);
    else {
      const failure = await store.load(idOf(file)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(CheckpointUnreadableError);
      expect((failure as Error).message).toMatch(expectation.rejected);
    }
  });

  test('through the loadCheckpoint activity', async () => {
    const { loadCheckpoint } = createCheckpointActivities(store);
    const result: CheckpointLoad = await new MockActivityEnvironment().run(loadCheckpoint, idOf(file));
    if ('loads' in expectation) expect(result.status).toBe('loaded');
    else
      expect(result).toEqual({ status: 'unreadable', reason: expect.stringMatching(expectation.rejected) });
  });
});
