/**
 * The programmatic client: start TAO workflows from a run spec, follow them
 * and read them back. The `tao` commands are built on it; it imports nothing
 * from the CLI, so TypeScript users get the same behaviour without a shell.
 */
import { Client, Connection } from '@temporalio/client';
import type { OpenTelemetryPluginOptions } from '@temporalio/interceptors-opentelemetry';
import type { StepOutcome } from './contracts';
import { type PayloadSettings, taoDataConverter } from './codec';
import { payloadSettings, resolveWorkerConfig } from './config/worker-config';
import { explainConnectError } from './connection/diagnose';
import { type TemporalConnection, resolveConnection } from './connection/settings';

export {
  RunSpecSchema,
  loadSourcelessBatchSpec,
  loadSpecFile,
  type RunSpec,
  type WorkflowKind,
} from './client/spec-file';
export { watchRun, type WatchOptions, type Watched } from './client/watch';
export { type RunningStep, runningSteps } from './client/running';
export { fetchProgress, fetchRunProgress } from './client/fetch-progress';
export { WORKFLOW_TYPES, type StartRunOptions, startRun } from './client/start';
export {
  type CollectGarbageOptions,
  type Collected,
  DEFAULT_RETENTION,
  type GarbageReport,
  collectGarbage,
  parseRetention,
} from './client/gc';
export { RERUN_OF_MEMO, type Rerun, type RerunOptions, rerunRun } from './client/rerun';
export {
  type StepDetail,
  decisionText,
  stepDetail,
  stepOutputHeads,
  textHead,
  waitingPrompt,
  waitingToolCall,
} from './client/step-detail';
export type { WaitingToolCall } from './workflows/lib/approvals';
export {
  type DeploymentState,
  type DeploymentVersionState,
  type SetCurrentOptions,
  type VersionStatus,
  describeDeployment,
  describeDeploymentVersion,
  setCurrentVersion,
} from './client/deployments';
export {
  type Decision,
  type PendingDecision,
  type RunControlState,
  answerStep,
  approveStep,
  cancelStep,
  pauseRun,
  pendingDecisions,
  rejectStep,
  resumeRun,
  sendMessage,
  setRunBudget,
  setRunConcurrency,
} from './client/steer';
export { type ResultsOptions, results } from './client/results';
export {
  type OutcomePage,
  type OutcomeRun,
  type OutcomeStore,
  type SeqOutcome,
  createOutcomeStore,
} from './outcomes';
export {
  type FollowOptions,
  endsStep,
  followStep,
  removeTranscripts,
  stepGoing,
  stepTranscript,
} from './client/transcripts';
export {
  type StepEvent,
  type StepEventBody,
  type StepEvents,
  TRANSCRIPT_LIMITS,
  type Transcript,
} from './transcripts/events';
export type { Progress } from './workflows/lib/progress';
export { type Tracing, tracingFromEnv } from './telemetry/tracing';
export {
  type ConnectionFlags,
  type TemporalConnection,
  describeConnection,
  resolveConnection,
} from './connection/settings';

/** What a TAO workflow returns: one entry per spec (parallel, resumable) or per item (pipeline, `null` = no result). */
export type RunResult = (StepOutcome | null)[];

// Long enough for a cloud endpoint's handshake; a TLS diagnosis after a failure stays well inside 15 s.
const CONNECT_TIMEOUT = '5 seconds';

export interface ConnectOptions {
  /** Where Temporal is; default: what the Temporal CLI would use (flags aside): `resolveConnection()`. */
  connection?: TemporalConnection;
  /** How payloads are encoded; must match the workers'. Default: from `TAO_BLOBS` and the other `TAO_*` variables. */
  payloads?: PayloadSettings;
  /** Trace what this client starts (e.g. `tracingFromEnv(…).options`); the run's workflow and step spans join its trace. */
  tracing?: OpenTelemetryPluginOptions;
}

/**
 * A client that reads and writes payloads the way TAO workers do. A failed
 * connection is one line saying why (TLS settings included) and what to set.
 */
export async function connectClient(options: ConnectOptions = {}): Promise<Client> {
  const target = options.connection ?? resolveConnection();
  const payloads = options.payloads ?? payloadSettings(resolveWorkerConfig({}));
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: target.address,
      connectTimeout: CONNECT_TIMEOUT,
      ...(target.tls !== undefined ? { tls: target.tls } : {}),
      ...(target.apiKey ? { apiKey: target.apiKey } : {}),
      ...(target.metadata ? { metadata: target.metadata } : {}),
    });
  } catch (error) {
    throw new Error(await explainConnectError(error, target));
  }
  return new Client({
    connection,
    namespace: target.namespace,
    dataConverter: taoDataConverter(payloads),
    // Loaded only for a traced client: the OpenTelemetry packages cost every command's start-up.
    ...(options.tracing
      ? {
          plugins: [
            new (await import('@temporalio/interceptors-opentelemetry')).OpenTelemetryPlugin(options.tracing),
          ],
        }
      : {}),
  });
}
