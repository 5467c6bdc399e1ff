/**
 * How fast `tao ui` pages through a batch run's outcomes (issue #33): puts
 * `--outcomes` outcomes of about `--bytes` bytes (every seventh failed) into a
 * fresh file outcome store, starts a UI server reading the same folder, and
 * times GET /api/runs/<run>/outcomes over HTTP: the first page and page 500
 * (`after=49899` at 100 a page), each on a fresh server (its first read of
 * the run indexes the run's segments: one scan of the files) and then warm
 * (the index kept, only appended bytes read), failed only, and one outcome
 * whole. No Temporal server: the outcomes routes read only the store.
 *
 * `npx ts-node --transpile-only scripts/bench/outcome-pages.ts [--outcomes 100000] [--bytes 2000] [--dir /var/tmp]`
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import type { StepOutcome } from '../../src/contracts';
import { FileOutcomeStore } from '../../src/outcomes';
import { startUiServer } from '../../src/ui/server';

const options = new Command()
  .option('--outcomes <n>', 'outcomes in the run', '100000')
  .option('--bytes <n>', "each outcome's output, about", '2000')
  .option('--dir <dir>', 'where the store goes', tmpdir())
  .option('--repeat <n>', 'warm reads of each page', '20')
  .parse()
  .opts<{ outcomes: string; bytes: string; dir: string; repeat: string }>();

const RUN = 'bench-outcome-pages';
const PUTS_AT_ONCE = 256;

const outcomeOf = (seq: number, bytes: number): StepOutcome => ({
  taskId: `task-${seq}`,
  agent: 'explore',
  sessionId: `session-${seq}`,
  output: randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64'),
  success: seq % 7 !== 3,
  usage: { inputTokens: 1200, outputTokens: 300, model: 'gpt-test', latencyMs: 900, costUsd: 0.001 },
});

async function main() {
  const total = Number(options.outcomes);
  const dir = mkdtempSync(join(options.dir, 'tao-outcome-pages-'));
  // The routes never reach Temporal: a connection that is never made.
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  try {
    const writer = new FileOutcomeStore(dir);
    const putStart = performance.now();
    for (let from = 0; from < total; from += PUTS_AT_ONCE) {
      const seqs = Array.from({ length: Math.min(PUTS_AT_ONCE, total - from) }, (_, i) => from + i);
      await Promise.all(seqs.map((seq) => writer.put(RUN, seq, outcomeOf(seq, Number(options.bytes)))));
    }
    const [held] = await writer.runs();
    console.log(
      `put ${total} outcomes (${(held!.bytes / 1e6).toFixed(0)} MB of segments) in ${((performance.now() - putStart) / 1000).toFixed(1)} s`,
    );

    const page500 = `after=${500 * 100 - 101}`;
    const timed = async (url: string) => {
      const start = performance.now();
      const response = await fetch(url);
      const body = (await response.json()) as { outcomes?: { seq: number }[]; seq?: number };
      if (!response.ok) throw new Error(`${url}: ${JSON.stringify(body)}`);
      return { ms: performance.now() - start, body };
    };
    const fresh = async (query: string) => {
      const ui = await startUiServer({ client, port: 0, outcomes: new FileOutcomeStore(dir) });
      try {
        const { ms, body } = await timed(`${ui.url}/api/runs/${RUN}/outcomes?${query}`);
        return { ms, first: body.outcomes?.[0]?.seq };
      } finally {
        await ui.close();
      }
    };
    const cold = { first: await fresh(''), page500: await fresh(page500) };
    console.log(
      `fresh server (index built on its first read): first page ${cold.first.ms.toFixed(0)} ms, page 500 (seq ${cold.page500.first}…) ${cold.page500.ms.toFixed(0)} ms`,
    );

    const ui = await startUiServer({ client, port: 0, outcomes: new FileOutcomeStore(dir) });
    try {
      await timed(`${ui.url}/api/runs/${RUN}/outcomes`);
      const warm = async (label: string, path: string) => {
        const times: number[] = [];
        for (let i = 0; i < Number(options.repeat); i++) times.push((await timed(`${ui.url}${path}`)).ms);
        times.sort((a, b) => a - b);
        const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
        console.log(`warm ${label}: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`);
      };
      await warm('first page', `/api/runs/${RUN}/outcomes`);
      await warm('page 500', `/api/runs/${RUN}/outcomes?${page500}`);
      await warm('page 999 (the last but one)', `/api/runs/${RUN}/outcomes?after=${total - 201}`);
      await warm('failed only, after 49899', `/api/runs/${RUN}/outcomes?failed=1&${page500}`);
      await warm('one outcome (seq 50000)', `/api/runs/${RUN}/outcomes/50000`);
    } finally {
      await ui.close();
    }
  } finally {
    await client.connection.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
