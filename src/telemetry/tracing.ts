/**
 * OpenTelemetry tracing, set up from the standard `OTEL_*` variables the way
 * any OpenTelemetry SDK reads them, for the Temporal SDK's own interceptors
 * (`@temporalio/interceptors-opentelemetry`): a span for starting a workflow
 * (client), for running it (workflow), and for scheduling and running each
 * activity, joined into one trace through Temporal headers.
 *
 * Tracing is on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp`,
 * and off with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The
 * exporter reads its endpoint, headers, timeout and compression itself; the
 * headers (often an API key) are never printed.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetryPluginOptions } from '@temporalio/interceptors-opentelemetry';
import { InputError } from '../config/data-file';

/** What {@link TaoPlugin} and `connectClient` take to trace, and how to flush it before exit. */
export interface Tracing {
  readonly options: OpenTelemetryPluginOptions;
  /** Exports what is buffered and stops; spans ended after this are dropped. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/**
 * Tracing as the `OTEL_*` variables describe it, or `undefined` when they
 * leave it off. The OpenTelemetry SDK is loaded only then: every `tao`
 * command would otherwise pay for it at start.
 */
export async function tracingFromEnv(
  defaultServiceName: string,
  env: Env = process.env,
): Promise<Tracing | undefined> {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporterName = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporterName === 'none') return undefined;
  if (exporterName !== undefined && exporterName !== '' && exporterName !== 'otlp') {
    throw new InputError(
      `OTEL_TRACES_EXPORTER=${exporterName} is not supported; TAO exports traces by OTLP: set it to otlp or none`,
    );
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint && exporterName !== 'otlp') return undefined;

  const exporter = await otlpExporter(env);
  const [{ BatchSpanProcessor }, { NodeTracerProvider }, { Resource, envDetectorSync }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  // One processor for every span: workflow spans are made in the sandbox and reach it through a sink.
  const spanProcessor = new BatchSpanProcessor(exporter);
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': defaultServiceName }))
    .merge(envDetectorSync.detect());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The interceptors use the global tracer; registering also gives activities an async context,
  // so the step's span is the active one while the executor runs.
  provider.register();
  return {
    options: { resource, spanProcessor },
    shutdown: () => provider.shutdown(),
  };
}

async function otlpExporter(env: Env): Promise<SpanExporter> {
  const variable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[variable]?.trim() || 'http/protobuf';
  if (protocol === 'http/protobuf')
    return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  if (protocol === 'http/json')
    return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  throw new InputError(
    `${variable}=${protocol} is not supported; set it to http/protobuf or http/json (an OTLP collector's HTTP port, 4318)`,
  );
}

let processTracing: Promise<Tracing | undefined> | undefined;

/**
 * This process's tracing from its environment, set up on first use: the
 * tracer provider is global, so a worker and a client in one process share it.
 */
export function envTracing(): Promise<Tracing | undefined> {
  processTracing ??= tracingFromEnv('tao');
  return processTracing;
}

/** Flushes what {@link envTracing} buffered; call before the process exits. */
export async function shutdownEnvTracing(): Promise<void> {
  // Settings it refused were reported where it was first asked for.
  const tracing = await processTracing?.catch(() => undefined);
  await tracing?.shutdown();
}
