/**
 * What the file outcome store writes per outcome byte (issue #33's target:
 * device bytes ≤ 3× outcome bytes). Puts `--outcomes` outcomes of about 2 KB,
 * `--concurrency` at a time (steps finishing together), into a fresh store
 * on the folder given, and reads two counters around it: the bytes this
 * process sent to storage (/proc/self/io write_bytes: data, no file-system
 * journal) and the bytes the device under the folder wrote
 * (/sys/block/<dev>/stat: everything, the journal and any other process
 * writing meanwhile included, so run it on a quiet machine).
 *
 * `npx ts-node --transpile-only scripts/bench/outcome-writes.ts [--outcomes 20000] [--concurrency 1,16,128] [--dir /var/tmp]`
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { StepOutcome } from '../../src/contracts';
import { FileOutcomeStore } from '../../src/outcomes';

const processWrites = () => Number(/write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);

/** The whole disk holding `dir` (its partition's parent, when on a partition), from its device number. */
function deviceOf(dir: string): string | undefined {
  const { dev } = statSync(dir);
  const id = `${Math.floor(dev / 256)}:${dev % 256}`;
  const name = readdirSync('/sys/block').find(
    (disk) =>
      readFileSync(`/sys/block/${disk}/dev`, 'utf8').trim() === id ||
      readdirSync(`/sys/block/${disk}`).some((part) => {
        try {
          return readFileSync(`/sys/block/${disk}/${part}/dev`, 'utf8').trim() === id;
        } catch {
          return false;
        }
      }),
  );
  return name;
}

const deviceWrites = (disk: string) =>
  Number(readFileSync(`/sys/block/${disk}/stat`, 'utf8').trim().split(/\s+/)[6]) * 512;

const outcomeOf = (seq: number): StepOutcome => ({
  taskId: `task-${seq}`,
  agent: 'explore',
  sessionId: `session-${seq}`,
  output: `${'x'.repeat(1900)} ${seq}`,
  success: true,
});

async function measure(root: string, outcomes: number, concurrency: number, disk: string | undefined) {
  const dir = mkdtempSync(join(root, 'tao-outcome-writes-'));
  try {
    const store = new FileOutcomeStore(dir);
    let outcomeBytes = 0;
    const [process0, device0] = [processWrites(), disk ? deviceWrites(disk) : NaN];
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let seq = next++; seq < outcomes; seq = next++) {
          const outcome = outcomeOf(seq);
          outcomeBytes += Buffer.byteLength(JSON.stringify(outcome));
          await store.put('run', seq, outcome);
        }
      }),
    );
    const ms = Date.now() - started;
    const [processBytes, deviceBytes] = [
      processWrites() - process0,
      disk ? deviceWrites(disk) - device0 : NaN,
    ];
    console.log(
      `concurrency ${String(concurrency).padStart(4)}: ${outcomes} outcomes, ${(outcomeBytes / 1e6).toFixed(1)} MB, ` +
        `${Math.round((outcomes / ms) * 1000)}/s; written per outcome byte: ` +
        `process ${(processBytes / outcomeBytes).toFixed(2)}, device ${(deviceBytes / outcomeBytes).toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = new Command()
    .option('--outcomes <n>', 'outcomes per measurement', '20000')
    .option('--concurrency <list>', 'puts in flight, one measurement each', '1,16,128')
    .option('--dir <dir>', 'folder to put the store in', '/var/tmp')
    .parse()
    .opts<{ outcomes: string; concurrency: string; dir: string }>();
  const disk = deviceOf(options.dir);
  console.log(`store under ${options.dir}, device ${disk ?? 'unknown (device figure left out)'}`);
  for (const concurrency of options.concurrency.split(',').map(Number)) {
    await measure(options.dir, Number(options.outcomes), concurrency, disk);
  }
}

void main();
