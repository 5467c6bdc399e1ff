/**
 * A process that puts outcomes into a file outcome store, for the tests that
 * need more than one writing process: `<dir> <run> <from> <to> <tag>` puts
 * places from..to-1 of `run`, each output `<tag> <seq>`, then exits.
 */
import { FileOutcomeStore } from '../../src/outcomes';
import { echoed } from './specs';

async function main(): Promise<void> {
  const [dir, run, from, to, tag] = process.argv.slice(2) as [string, string, string, string, string];
  const store = new FileOutcomeStore(dir);
  const puts: Promise<void>[] = [];
  for (let seq = Number(from); seq < Number(to); seq++) {
    puts.push(store.put(run, seq, echoed(`t${seq}`, `${tag} ${seq}`)));
  }
  await Promise.all(puts);
}

void main();
