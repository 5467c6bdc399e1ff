/**
 * An OTLP/HTTP trace receiver on loopback, as a collector's port 4318 is:
 * `POST /v1/traces` with an `ExportTraceServiceRequest`, as protobuf or
 * JSON. It decodes both (with the OTLP schema the exporters themselves are
 * built from) into one flat list of spans for tests to read.
 */
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root';

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  attributes: Record<string, Value>;
  /** Event names with their attributes, e.g. a recorded exception. */
  events: { name: string; attributes: Record<string, Value> }[];
}

type Value = string | number | boolean | Value[];

export interface OtlpReceiver {
  /** What `OTEL_EXPORTER_OTLP_ENDPOINT` should say. */
  endpoint: string;
  spans(): ReceivedSpan[];
  /** Content types of the requests received, in order. */
  contentTypes(): string[];
  /** `authorization` headers received (from `OTEL_EXPORTER_OTLP_HEADERS`), in order. */
  authorizations(): string[];
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        status?: { code?: number; message?: string };
        attributes?: KeyValue[];
        events?: { name: string; attributes?: KeyValue[] }[];
      }[];
    }[];
  }[];
}

/** The part of the exporters' generated OTLP schema used here; its declaration types it only as a protobuf Root. */
interface MessageType {
  decode(bytes: Uint8Array): object;
  toObject(message: object, options: { longs: typeof String; bytes: typeof String }): object;
}
const { ExportTraceServiceRequest } = (
  generated as unknown as {
    opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: MessageType } } } } };
  }
).opentelemetry.proto.collector.trace.v1;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const authorizations: string[] = [];
  const server: Server = createServer((request, response) => {
    void body(request).then((bytes) => {
      const type = request.headers['content-type'] ?? '';
      contentTypes.push(type);
      if (request.headers.authorization) authorizations.push(request.headers.authorization);
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      const message: ExportRequest = type.includes('json')
        ? (JSON.parse(bytes.toString('utf8')) as ExportRequest)
        : (ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), {
            longs: String,
            bytes: String, // base64, which id() reads
          }) as ExportRequest);
      received.push(...flatten(message));
      response.writeHead(200, { 'content-type': type }).end(type.includes('json') ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    contentTypes: () => [...contentTypes],
    authorizations: () => [...authorizations],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function body(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function flatten(message: ExportRequest): ReceivedSpan[] {
  return (message.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service = String(attributes(resourceSpans.resource?.attributes)['service.name'] ?? '');
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        service,
        traceId: id(span.traceId),
        spanId: id(span.spanId),
        parentSpanId: span.parentSpanId ? id(span.parentSpanId) : '',
        name: span.name,
        kind: span.kind ?? 0,
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        attributes: attributes(span.attributes),
        events: (span.events ?? []).map((event) => ({
          name: event.name,
          attributes: attributes(event.attributes),
        })),
      })),
    );
  });
}

/** OTLP/JSON writes ids as hex; protobuf bytes come out of toObject as base64. */
function id(value: string): string {
  return /^[0-9a-f]+$/.test(value) && (value.length === 16 || value.length === 32)
    ? value
    : Buffer.from(value, 'base64').toString('hex');
}

function attributes(list: KeyValue[] = []): Record<string, Value> {
  return Object.fromEntries(list.map(({ key, value = {} }) => [key, valueOf(value)]));
}

function valueOf(value: AnyValue): Value {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return value.stringValue ?? value.boolValue ?? value.doubleValue ?? Number(value.intValue ?? NaN);
}
