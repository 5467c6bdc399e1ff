/**
 * TAO's own metrics, recorded through the SDK's metric meter, so they leave
 * by whatever exporter the Temporal runtime has (`tao worker --metrics` serves
 * them with Core's own as Prometheus). Every name starts with `tao_`; counts
 * carry the agent (and the model, for tokens).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricMeter } from '@temporalio/common';
import type { AgentStepSpec, StepOutcome } from '../contracts';

/** Records one step attempt: started (and retried, after the first attempt), then how it ended. */
export function stepMetrics(meter: MetricMeter, spec: AgentStepSpec, attempt: number) {
  const tags = { agent: spec.agent };
  meter.createCounter('tao_steps_started', 'steps', 'step attempts started').add(1, tags);
  if (attempt > 1)
    meter.createCounter('tao_steps_retried', 'steps', 'step attempts that were retries').add(1, tags);
  const started = Date.now();
  const ended = (result: 'succeeded' | 'failed' | 'crashed') => {
    meter
      .createHistogram('tao_step_duration', 'int', 'ms', 'wall-clock time of a step attempt')
      .record(Date.now() - started, { ...tags, result });
  };
  return {
    finished(outcome: StepOutcome): void {
      const result = outcome.success ? 'succeeded' : 'failed';
      meter.createCounter(`tao_steps_${result}`, 'steps', `steps that ${result}`).add(1, tags);
      if (outcome.usage) {
        const tokens = meter.createCounter('tao_tokens', 'tokens', 'model tokens used by steps');
        const model = { ...tags, model: outcome.usage.model };
        tokens.add(outcome.usage.inputTokens, { ...model, direction: 'input' });
        tokens.add(outcome.usage.outputTokens, { ...model, direction: 'output' });
      }
      ended(result);
    },
    crashed(): void {
      meter.createCounter('tao_steps_crashed', 'steps', 'step attempts whose executor threw').add(1, tags);
      ended('crashed');
    },
  };
}

/** Records one checkpoint save: `saved`, `stale` or `missing-base`, or a failure. */
export function checkpointSaveMetric(meter: MetricMeter, result: string): void {
  meter.createCounter('tao_checkpoint_saves', 'saves', 'checkpoint saves, by result').add(1, { result });
}

/** How often the event-loop gauges are set, each over the interval before. */
const EVENT_LOOP_INTERVAL_MS = 5_000;

/**
 * The worker process's event-loop delay, p99 and max over each interval, as
 * gauges: every step's I/O, heartbeat and stream chunk waits behind a blocked
 * loop, so this is what says a worker holds more agents than it can serve.
 */
export function recordEventLoopDelay(meter: MetricMeter): void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const p99 = meter.createGauge('tao_event_loop_delay_p99', 'float', 'ms', 'event-loop delay, p99 over 5 s');
  const max = meter.createGauge('tao_event_loop_delay_max', 'float', 'ms', 'event-loop delay, max over 5 s');
  setInterval(() => {
    p99.set(delay.percentile(99) / 1e6);
    max.set(delay.max / 1e6);
    delay.reset();
  }, EVENT_LOOP_INTERVAL_MS).unref();
}
