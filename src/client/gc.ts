/**
 * `tao gc`: removes the state that runs closed more than a retention ago
 * left in the stores, and nothing a live run (./live-runs) may still use.
 * What is removed, by kind (docs/deploy.md, "What TAO stores and for how
 * long", has the why):
 *
 * - a checkpoint last written before the cut-off that no live run names;
 * - a step state saved before the cut-off whose run is not open;
 * - a step-cache entry that expired before the cut-off (one that never
 *   expires is the cache's to keep: `tao cache rm`);
 * - a blob written before the cut-off that no live run refers to. Blobs are
 *   content-addressed and shared between runs, so none is removed for being
 *   a closed run's: only for being referred to by no live run (mark and
 *   sweep). A put renews a blob's age (src/blobs/blob-store.ts), so a blob
 *   a run encodes while gc runs, before the server shows that run, is young
 *   and stays. A live run's items uploaded by reference (src/items) are
 *   kept whole: the manifest its input names and every page blob it lists;
 * - the outcomes a run kept by reference (src/outcomes), when none was put
 *   after the cut-off and its workflow id is no live run's: the rule of
 *   transcripts, which are keyed by workflow id too;
 * - a step's transcript whose last event landed before the cut-off and whose
 *   workflow id is no live run's (an earlier execution's or a child's
 *   included). Transcripts are keyed by workflow id, not run id, so a closed
 *   run's stay while a run that reuses its id is live; and a run that starts
 *   with that id and that task id while gc runs, before the server shows it,
 *   may lose the events it wrote before gc removed the old transcript.
 *
 * Anything whose age cannot be read (an unreadable record) is left for the
 * `tao checkpoint` and `tao cache` commands. A dry run reads the same and
 * removes nothing.
 */
import type { Client } from '@temporalio/client';
import ms, { type StringValue } from 'ms';
import type { ApplicationFailure } from '@temporalio/common';
import { BLOB_ERROR_TYPE, type BlobStore, openBlobStore } from '../blobs';
import { InputError } from '../config/data-file';
import { itemPageKeys } from '../items';
import { type OutcomeStore, createOutcomeStore } from '../outcomes';
import { createStore } from '../stores/registry';
import type { SessionStore } from '../stores/session-store';
import type { TranscriptStore } from '../transcripts/events';
import { type LiveRuns, liveRuns } from './live-runs';

export interface CollectGarbageOptions {
  /** How long a closed run's state is kept: a duration with a unit (`7d`, `12h`, `90m`) or milliseconds. Default 7 days. */
  olderThan?: string | number;
  /** Report what would be removed, and remove nothing. */
  dryRun?: boolean;
  /** The workers' checkpoint store (`--store`): checkpoints, step states, the step cache and transcripts. Omitted: not collected. */
  store?: string | SessionStore;
  /** The workers' blob store (`--blobs`). Omitted: not collected. */
  blobs?: string | BlobStore;
  /** Where runs keep their outcomes by reference: the store's ref. Omitted: the one `store` names, when it is a ref. */
  outcomes?: string | OutcomeStore;
}

/** One kind's removals: each item's id (checkpoint id, step-state key, cache key, blob key, `<workflowId>/<taskId>` of a transcript, a run's workflow id for outcomes) and their bytes. */
export interface Collected {
  count: number;
  bytes: number;
  items: string[];
}

export interface GarbageReport {
  dryRun: boolean;
  /** State older than this (and of no live run) is what goes. */
  cutoff: Date;
  /** Executions read from the server to find what live runs use. */
  liveExecutions: number;
  /** Absent when the store was not given. */
  checkpoints?: Collected;
  stepStates?: Collected;
  cache?: Collected;
  /** Also absent when the store keeps no transcripts (one written against 1.0). */
  transcripts?: Collected;
  /** Absent when the blob store was not given. */
  blobs?: Collected;
  /** Absent when no outcome store was given or named by `store`. */
  outcomes?: Collected;
}

export const DEFAULT_RETENTION = '7d';

/** A retention in milliseconds; a bare number without a unit is refused (is `7` days or milliseconds?). */
export function parseRetention(value: string | number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  let parsed = NaN;
  if (typeof value === 'string' && !/^\s*[\d.]+\s*$/.test(value)) {
    try {
      parsed = ms(value as StringValue);
    } catch {
      // ms throws on a string it will not look at (too long); the line below says what to give.
    }
  }
  if (!(parsed > 0)) {
    throw new InputError(
      `invalid --older-than "${String(value)}": give a positive duration with a unit, such as 7d, 12h or 90m`,
    );
  }
  return parsed;
}

/** Removes (or with `dryRun`, lists) what runs closed past the retention left behind; see the module comment. */
export async function collectGarbage(
  client: Client,
  options: CollectGarbageOptions = {},
): Promise<GarbageReport> {
  const cutoffMs = Date.now() - parseRetention(options.olderThan ?? DEFAULT_RETENTION);
  const dryRun = options.dryRun === true;
  const live = await liveRuns(client, cutoffMs);
  const report: GarbageReport = { dryRun, cutoff: new Date(cutoffMs), liveExecutions: live.executions };
  const store = typeof options.store === 'string' ? await createStore(options.store) : options.store;
  const blobs = typeof options.blobs === 'string' ? openBlobStore(options.blobs) : options.blobs;
  const outcomesRef = options.outcomes ?? (typeof options.store === 'string' ? options.store : undefined);
  const outcomes = typeof outcomesRef === 'string' ? createOutcomeStore(outcomesRef) : outcomesRef;
  try {
    if (store) Object.assign(report, await collectFromStore(store, live, cutoffMs, dryRun));
    if (outcomes) {
      report.outcomes = await collect(
        (await outcomes.runs())
          .filter((run) => run.writtenMs < cutoffMs && !live.workflowIds.has(run.run))
          .map((run) => ({ id: run.run, bytes: async () => run.bytes })),
        dryRun,
        // Only if the run put nothing since it was listed.
        ({ id }) => outcomes.delete(id, cutoffMs),
      );
    }
    if (blobs) {
      const kept = await withItemPages(blobs, live);
      report.blobs = await collect(
        (await blobs.list())
          .filter((blob) => blob.writtenMs < cutoffMs && !kept.has(blob.key))
          .map((blob) => ({ id: blob.key, bytes: async () => blob.bytes })),
        dryRun,
        // Only if no put renewed it since it was listed.
        ({ id }) => blobs.delete(id, cutoffMs),
      );
    }
  } finally {
    if (typeof options.store === 'string') await store?.close?.();
    if (typeof options.blobs === 'string') await blobs?.close?.();
    if (typeof outcomesRef === 'string') await outcomes?.close?.();
  }
  return report;
}

/**
 * The blobs live runs refer to, with the page blobs of the item manifests
 * their inputs name. A manifest that is gone or altered names nothing to
 * keep; one that cannot be read otherwise fails the collection, as a missed
 * mark would remove a live run's items.
 */
async function withItemPages(blobs: BlobStore, live: LiveRuns): Promise<Set<string>> {
  const kept = new Set(live.blobKeys);
  for (const key of live.itemManifests) {
    kept.add(key);
    const pages = await itemPageKeys(blobs, key).catch((error: unknown) => {
      // Missing or altered: no run reads pages through it any more.
      if ((error as ApplicationFailure).type === BLOB_ERROR_TYPE) return [];
      throw error;
    });
    for (const page of pages) kept.add(page);
  }
  return kept;
}

/** Checkpoints, step states, expired cache entries and transcripts that no live run holds on to. */
async function collectFromStore(
  store: SessionStore,
  live: LiveRuns,
  cutoffMs: number,
  dryRun: boolean,
): Promise<Pick<GarbageReport, 'checkpoints' | 'stepStates' | 'cache' | 'transcripts'>> {
  const checkpoints = await collect(
    (await store.list())
      .filter((c) => !c.unreadable && c.checkpointMs < cutoffMs && !live.checkpointIds.has(c.checkpointId))
      .map((c) => ({ id: c.checkpointId, bytes: () => store.load(c.checkpointId).then(jsonBytes) })),
    dryRun,
    async ({ id }) => (await store.delete(id), true),
  );
  const stepStates = await collect(
    (await store.listStepStates())
      .filter((s) => !s.unreadable && s.savedMs < cutoffMs && !ofOpenRun(s.key, live.openRunIds))
      .map((s) => ({ id: s.key, bytes: async () => s.bytes })),
    dryRun,
    async ({ id }) => (await store.deleteStepState(id), true),
  );
  const transcripts =
    store.transcripts && (await collectTranscripts(store.transcripts, live, cutoffMs, dryRun));
  const kept = { checkpoints, stepStates, ...(transcripts ? { transcripts } : {}) };
  const { getCached, listCached, deleteCached } = store;
  // A store written against 1.0 keeps no step cache.
  if (!getCached || !listCached || !deleteCached) return kept;
  const cache = await collect(
    (await listCached.call(store))
      .filter((e) => !e.unreadable && e.expiresMs !== undefined && e.expiresMs < cutoffMs)
      // Read as of when it was saved: an expired entry is not served now.
      .map((e) => ({
        id: e.key,
        bytes: () => getCached.call(store, e.key, e.savedMs).then((entry) => jsonBytes(entry?.outcome)),
      })),
    dryRun,
    ({ id }) => deleteCached.call(store, id),
  );
  return { ...kept, cache };
}

/** Transcripts idle since before the cut-off, of workflows no live run has. */
async function collectTranscripts(
  transcripts: TranscriptStore,
  live: LiveRuns,
  cutoffMs: number,
  dryRun: boolean,
): Promise<Collected> {
  return collect(
    (await transcripts.listTranscripts())
      .filter((t) => t.lastEventMs < cutoffMs && !live.workflowIds.has(t.workflowId))
      .map((t) => ({ ...t, id: `${t.workflowId}/${t.taskId}`, bytes: async () => t.bytes })),
    dryRun,
    // Its key, not its id: either id may hold a `/`.
    async ({ workflowId, taskId }) => (await transcripts.deleteTranscripts(workflowId, taskId)) > 0,
  );
}

interface Candidate {
  id: string;
  bytes: () => Promise<number>;
}

/** Removes each candidate in turn (none on a dry run); what `remove` says it did not remove is not counted. */
async function collect<C extends Candidate>(
  candidates: C[],
  dryRun: boolean,
  remove: (candidate: C) => Promise<boolean>,
): Promise<Collected> {
  const collected: Collected = { count: 0, bytes: 0, items: [] };
  for (const candidate of candidates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const { id, bytes } = candidate;
    const size = await bytes();
    if (!dryRun && !(await remove(candidate))) continue;
    collected.count++;
    collected.bytes += size;
    collected.items.push(id);
  }
  return collected;
}

/** A step-state key holds its run's id as one `/`-separated part (src/activities/step-state.ts). */
const ofOpenRun = (key: string, openRunIds: Set<string>): boolean =>
  key.split('/').some((part) => openRunIds.has(part));

const jsonBytes = (value: unknown): number =>
  value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
