// The hand-written batch's activities (./workflows.ts), plain JavaScript for the bare SDK worker
// (../payload-floor/worker.js): a page of a JSONL file from a byte offset, and a step that echoes its
// item's prompt into an outcome line appended to a file (no fsync: the simplest thing a batch would do).
// The bench's items are ASCII lines, each ended by a newline, so a chunk never splits a character.
const { open } = require('node:fs/promises');

const CHUNK = 1 << 20;

async function readPage({ file, offset, limit }) {
  const handle = await open(file, 'r');
  try {
    const items = [];
    let at = offset;
    let rest = '';
    for (;;) {
      const buffer = Buffer.alloc(CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, at + Buffer.byteLength(rest));
      const text = rest + buffer.toString('utf8', 0, bytesRead);
      const lines = text.split('\n');
      rest = lines.pop();
      for (const line of lines) {
        at += Buffer.byteLength(line) + 1;
        if (line.trim()) items.push(JSON.parse(line));
        if (items.length === limit) return { items, next: at };
      }
      if (bytesRead === 0) return { items, next: null };
    }
  } finally {
    await handle.close();
  }
}

/** One append-only handle per outcome file, for the life of the process. */
const outputs = new Map();

async function echoItem({ item, out }) {
  if (!outputs.has(out)) outputs.set(out, open(out, 'a'));
  const line = JSON.stringify({ taskId: item.taskId, agent: item.agent, success: true, output: item.prompt });
  await (await outputs.get(out)).write(`${line}\n`);
}

module.exports = { readPage, echoItem };
