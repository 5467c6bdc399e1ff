/**
 * Payload encryption: AES-256-GCM with rotating keys, composed with the claim
 * check (encrypt, then offload). Through a real worker and dev server, the
 * history as the Temporal CLI prints it and the blob files hold none of the
 * prompts or outputs, while the client reads the real results.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import {
  DECRYPT_ERROR_TYPE,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  generateKeyLine,
  loadKeyRing,
  taoDataConverter,
  taoPayloadCodecs,
} from '../../src/codec';
import type { StepOutcome } from '../../src/contracts';
import { ScriptExecutor } from '../../src/executors/script';
import { temporalCli } from '../support/temporal-cli';
import { closeDevClient, uniqueId, withWorker } from '../support/temporal';

afterAll(closeDevClient);

const dir = mkdtempSync(join(tmpdir(), 'tao-encryption-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ring = (...lines: string[]) => loadKeyRing({ keys: lines.join(',') })!;
const oldKey = generateKeyLine('2026-10');
const newKey = generateKeyLine('2026-11');
const payload = (text: string) => defaultPayloadConverter.toPayload(text);
const text = (p: unknown) => defaultPayloadConverter.fromPayload<string>(p as never);

describe('the encryption codec', () => {
  test('round-trips, hides the plaintext and the encoding, and names its key', async () => {
    const codec = new EncryptionCodec(ring(newKey));
    const [sealed] = await codec.encode([payload('a secret prompt')]);
    expect(Buffer.from(sealed!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed!.metadata!['encryption-key-id']!).toString()).toBe('2026-11');
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('secret');
    expect(text((await codec.decode([sealed!]))[0])).toBe('a secret prompt');
    const [again] = await codec.encode([payload('a secret prompt')]);
    expect(Buffer.from(again!.data!)).not.toEqual(Buffer.from(sealed!.data!)); // a fresh IV each time
  });

  test('rotation: the new key encrypts, the old one still decrypts', async () => {
    const [old] = await new EncryptionCodec(ring(oldKey)).encode([payload('written last month')]);
    const rotated = new EncryptionCodec(ring(newKey, oldKey));
    expect(text((await rotated.decode([old!]))[0])).toBe('written last month');
    const [fresh] = await rotated.encode([payload('written today')]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('2026-11');
  });

  test('a missing key or the wrong key is a clear non-retryable error that shows no key', async () => {
    const [sealed] = await new EncryptionCodec(ring(newKey)).encode([payload('x')]);
    const missing = await new EncryptionCodec(ring(oldKey)).decode([sealed!]).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApplicationFailure);
    expect(missing).toMatchObject({ nonRetryable: true, type: DECRYPT_ERROR_TYPE });
    expect((missing as Error).message).toBe(
      'payload encrypted with key id "2026-11", which is not among the configured keys (2026-10); add that key to TAO_ENCRYPTION_KEYS or the key file',
    );
    const impostor = `2026-11:${oldKey.split(':')[1]}`;
    const wrong = (await new EncryptionCodec(ring(impostor))
      .decode([sealed!])
      .catch((e: unknown) => e)) as Error;
    expect(wrong.message).toMatch(
      /^cannot decrypt a payload with key id "2026-11": the key under that id is not/,
    );
    for (const line of [oldKey, newKey])
      expect(wrong.message + (missing as Error).message).not.toContain(line.split(':')[1]);
  });

  test('key settings: bad keys, duplicates, both sources, and a key file others can read are refused', () => {
    expect(() => loadKeyRing({ keys: 'k1:c2hvcnQ=' })).toThrow(
      'TAO_ENCRYPTION_KEYS, key 1 (id k1): not 32 bytes of base64; make one with `tao keygen k1`',
    );
    expect(() => loadKeyRing({ keys: `${newKey},${newKey}` })).toThrow(
      'TAO_ENCRYPTION_KEYS, key 2: id 2026-11 appears twice',
    );
    expect(() => loadKeyRing({ keys: 'no colon here' })).toThrow(/key 1: expected <id>:<base64 of 32 bytes>/);
    expect(() => loadKeyRing({ keys: ' , ' })).toThrow('TAO_ENCRYPTION_KEYS holds no keys');
    const file = join(dir, 'keys');
    writeFileSync(file, `# rotated monthly\n${newKey}\n${oldKey}\n`);
    chmodSync(file, 0o644);
    expect(() => loadKeyRing({ keyFile: file })).toThrow(
      `encryption key file ${file} is readable by others; run \`chmod 600 ${file}\``,
    );
    chmodSync(file, 0o600);
    expect(loadKeyRing({ keyFile: file })!.current.id).toBe('2026-11');
    expect(() => loadKeyRing({ keyFile: file, keys: newKey })).toThrow(/not both/);
    expect(loadKeyRing({})).toBeUndefined();
  });
});

test('through a worker: history and blobs hold no prompt or output; the client reads them; a wrong key fails clearly', async () => {
  const blobs = join(dir, 'blobs');
  const encryption = ring(newKey, oldKey);
  const dataConverter = taoDataConverter({ blobs, encryption });
  const secrets = ['PROMPT-ZEBRA-17', 'PROMPT-OKAPI-42', `BIG-PROMPT-${'quokka '.repeat(30_000)}`];
  const executor = new ScriptExecutor({ default: { output: 'ANSWER to {{{prompt}}}' } });
  await withWorker({ executor, dataConverter }, async ({ client: raw, taskQueue }) => {
    const client = new Client({ connection: raw.connection, dataConverter });
    const workflowId = uniqueId('encrypted');
    const outcomes: StepOutcome[] = await client.workflow.execute('parallelWorkflow', {
      taskQueue,
      workflowId,
      args: [{ specs: secrets.map((prompt, i) => ({ taskId: `t${i}`, agent: 'explore', prompt })) }],
    });
    expect(outcomes.map((o) => o.output)).toEqual(secrets.map((s) => `ANSWER to ${s}`));

    const shown = await temporalCli(['workflow', 'show', '--workflow-id', workflowId]);
    expect(shown.code).toBe(0);
    const blobFiles = readdirSync(blobs).map((name) => readFileSync(join(blobs, name), 'latin1'));
    expect(blobFiles.length).toBeGreaterThan(0); // the big prompt and its answer were offloaded
    for (const haystack of [shown.stdout, ...blobFiles]) {
      for (const needle of ['ZEBRA', 'OKAPI', 'quokka', 'ANSWER']) expect(haystack).not.toContain(needle);
    }
    expect(shown.stdout).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));

    const stranger = new Client({
      connection: raw.connection,
      dataConverter: {
        payloadCodecs: taoPayloadCodecs({ blobs, encryption: ring(generateKeyLine('other')) }),
      },
    });
    const failure = (await stranger.workflow
      .getHandle(workflowId)
      .result()
      .catch((e: unknown) => e)) as Error;
    expect(failure.message).toContain(
      'payload encrypted with key id "2026-11", which is not among the configured keys (other)',
    );
  });
});
