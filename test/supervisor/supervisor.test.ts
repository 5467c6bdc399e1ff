import { readFileSync } from 'node:fs';
import { spawnSupervised } from '../../src/supervisor';

const SECRET = 'tao-supervisor-test-secret-4f1c';

describe('spawnSupervised', () => {
  it("gives the program its environment without putting it on the supervisor's command line", async () => {
    const supervised = spawnSupervised({
      argv: ['sh', '-c', 'echo "seen:$TAO_TEST_SECRET"; exec sleep 30'],
      cwd: process.cwd(),
      env: { PATH: process.env.PATH, TAO_TEST_SECRET: SECRET },
    });
    try {
      const seen = await new Promise<string>((resolve) => {
        let out = '';
        supervised.child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
      });
      expect(seen).toBe(`seen:${SECRET}`);
      // Any user of the machine can read a process's command line; only its owner can read its environment.
      const commandLine = readFileSync(`/proc/${supervised.child.pid}/cmdline`, 'utf8');
      expect(commandLine).toContain('"argv":["sh","-c"');
      expect(commandLine).not.toContain(SECRET);
    } finally {
      const exited = new Promise((resolve) => supervised.child.once('exit', resolve));
      supervised.killTree('SIGKILL');
      await exited;
    }
  });
});
