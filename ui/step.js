import { act, api, formatMs, h, labelled, sessionInfo } from './dom.js';
import { follow } from './stream.js';
import { decisionForm, runLink, runPath, stepLink } from './views.js';

/**
 * A step's own page (`#/run/<id>/step/<taskId>`): what history says of it, its transcript as a conversation,
 * live while it runs (pushed by the server, no polling), and a box to send its agent a message. Returns the
 * function that stops following when the page is left.
 */
/** The longest the step's detail waits for the transcript's backlog (a step with no transcript sends none). */
const DETAIL_WAIT_MS = 500;
const BACKLOG_PAUSE_MS = 50;

export function stepView(main, runId, taskId) {
  const detail = h('section', { 'aria-label': 'Step detail', class: 'detail' });
  const state = h('p', { class: 'stream-state', 'aria-live': 'polite' }, 'Connecting to the transcript…');
  const list = h('ol', { class: 'transcript', 'aria-label': 'Transcript' });
  const box = messageBox(runId, taskId, list);
  main.replaceChildren(
    h('p', {}, h('a', { href: runLink(runId) }, `Run ${runId}`)),
    h('h1', {}, `Step ${taskId}`),
    detail,
    h('h2', {}, 'Transcript'),
    state,
    list,
    box,
  );
  // The detail reads history and asks the run, whose progress a worker answers by replaying it (for `tao dev`
  // in the UI server's own process): asked once the transcript's backlog is in, so the two never compete.
  const redraw = () => renderDetail(detail, runId, taskId, redraw);
  let asked = false;
  const ask = () => {
    if (!asked) redraw();
    asked = true;
  };
  setTimeout(ask, DETAIL_WAIT_MS);
  // The backlog comes in a few reads in a row: the detail is asked for once they pause.
  let settle;
  const transcript = transcriptView(list, runId);
  return follow(`${runPath(runId)}/steps/${encodeURIComponent(taskId)}/events`, {
    onOpen: () => (state.textContent = 'Live: new events show as they land.'),
    onEvents: (events) => {
      transcript.add(events);
      clearTimeout(settle);
      settle = setTimeout(ask, BACKLOG_PAUSE_MS);
    },
    onEnd: ({ reason }) => {
      asked = true;
      state.textContent = list.children.length
        ? `Ended: ${reason}.`
        : `No transcript: only llm steps keep one, in the store their workers use (tao ui --store); ${reason}.`;
      box.hidden = true;
      redraw();
    },
    onError: (error) => {
      ask();
      state.textContent = error.refused
        ? `No transcript: ${error.message}`
        : `Transcript stream dropped (${error.message}); reconnecting…`;
    },
  });
}

/** Status, usage, the step's text from history, and the decisions and cancel it takes. */
async function renderDetail(section, runId, taskId, redraw) {
  let d, run;
  try {
    [d, run] = await Promise.all([
      api(`${runPath(runId)}/steps/${encodeURIComponent(taskId)}`),
      api(runPath(runId)),
    ]);
  } catch (error) {
    section.replaceChildren(h('p', {}, error.message));
    return;
  }
  const session = await sessionInfo();
  const o = d.outcome;
  const step = run.progress?.steps.findLast((s) => s.taskId === taskId);
  const events =
    session.temporalUiUrl && d.eventId
      ? h(
          'a',
          {
            href: `${session.temporalUiUrl}/namespaces/${encodeURIComponent(run.namespace)}/workflows/${encodeURIComponent(runId)}/${encodeURIComponent(run.runId)}/history/events/${d.eventId}`,
            target: '_blank',
            rel: 'noopener noreferrer',
          },
          `Events in the Temporal Web UI (event ${d.eventId}, where it was scheduled)`,
        )
      : '';
  section.replaceChildren(
    h(
      'p',
      {},
      [
        step ? `Status ${step.status}` : '',
        d.attempt ? `, attempt ${d.attempt}` : '',
        d.durationMs !== undefined ? `, ${formatMs(d.durationMs)}` : '',
        o?.usage ? `, ${stepUsageText(o.usage)}` : '',
      ].join(''),
    ),
    events,
    ...textBlock('Prompt', d.prompt),
    ...outcomeBlocks(o, d.failure),
    step?.status === 'waiting'
      ? decisionForm(
          runId,
          taskId,
          step.decision,
          step.decision === 'after' ? o?.output : undefined,
          redraw,
          d.toolCall,
        )
      : '',
    // As the workflow's validator: a waiting step is decided, not cancelled.
    ['pending', 'running'].includes(step?.status)
      ? h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: () =>
              act(`Cancel step ${taskId}`, () => api(`${runPath(runId)}/cancel-step`, { taskId })),
          },
          'Cancel step',
        )
      : '',
  );
}

const textBlock = (title, value) =>
  value === undefined || value === '' ? [] : [h('h3', {}, title), h('pre', {}, value)];

/** A step's tokens, model and cost, in one phrase. */
export const stepUsageText = (usage) =>
  `${usage.inputTokens} in / ${usage.outputTokens} out tokens (${usage.model})` +
  (usage.costUsd !== undefined ? `, $${usage.costUsd.toFixed(4)}` : '');

/** What a step returned, whole: its output, structured output and error (else `failure`, its activity's). */
export const outcomeBlocks = (o, failure) => [
  ...textBlock('Output', o?.output),
  ...textBlock(
    'Structured output',
    o?.structured === undefined ? undefined : JSON.stringify(o.structured, null, 2),
  ),
  ...textBlock('Error', o?.error ?? failure),
];

/** The run's `message` Update, as `tao say`; what was sent shows at the transcript's end (the run keeps it, not the transcript). */
function messageBox(runId, taskId, list) {
  const text = h('textarea', { name: 'message', rows: 3 });
  return h(
    'form',
    {
      class: 'message',
      'aria-label': `Message to ${taskId}`,
      onsubmit: async (e) => {
        e.preventDefault();
        const said = text.value;
        let sent;
        const ok = await act(`Message to ${taskId}`, async () => {
          sent = await api(`${runPath(runId)}/message`, { taskId, text: said });
        });
        if (!ok) return;
        text.value = '';
        list.append(
          h(
            'li',
            { class: 'sent' },
            h(
              'p',
              { class: 'who' },
              `You (message ${sent.result.seq}; the agent reads it before its next model call)`,
            ),
            h('div', { class: 'text' }, said),
          ),
        );
      },
    },
    labelled('Message to the agent', text),
    h('button', {}, 'Send'),
  );
}

const usageText = ({ model, finish, usage: u }) =>
  [
    `${model}, ${finish}: ${u.inputTokens} in / ${u.outputTokens} out tokens`,
    u.cacheReadTokens ? `, ${u.cacheReadTokens} cache read` : '',
    u.cacheWriteTokens ? `, ${u.cacheWriteTokens} cache write` : '',
    u.costUsd !== undefined ? `, $${u.costUsd.toFixed(6)}` : '',
  ].join('');

/**
 * The transcript as a conversation, built event by event (src/transcripts/events.ts): a turn per model call
 * whose text grows with each delta and is replaced by the turn's full text at its end, tool calls folded
 * under it with their results, attempts and delegations between turns.
 */
function transcriptView(list, runId) {
  // A retry's rounds go on from where it resumed: each attempt starts a fresh set of turns.
  let turns = new Map();
  const calls = new Map();
  const cut = (e) => (e.truncated ? h('span', { class: 'cut' }, ' (cut: too long to keep whole)') : '');
  const item = (cls, ...children) => list.appendChild(h('li', { class: cls }, ...children));
  const turnOf = (e) => {
    let turn = turns.get(e.round);
    if (!turn) {
      turn = {
        text: h('div', { class: 'text' }),
        tools: h('div', { class: 'tools' }),
        usage: h('p', { class: 'usage' }),
      };
      item(
        'turn',
        h('p', { class: 'who' }, `Round ${e.round} · attempt ${e.attempt}`),
        turn.text,
        turn.tools,
        turn.usage,
      );
      turns.set(e.round, turn);
    }
    return turn;
  };
  const on = {
    'attempt-start': (e) => {
      turns = new Map();
      item(
        'attempt',
        `Attempt ${e.attempt} started`,
        e.resumedAtRound === undefined
          ? ''
          : `, going on from the saved conversation at round ${e.resumedAtRound}`,
      );
    },
    'turn-start': turnOf,
    'text-delta': (e) => turnOf(e).text.append(e.text),
    'turn-end': (e) => {
      const turn = turnOf(e);
      turn.text.textContent = e.text;
      turn.usage.replaceChildren(usageText(e), cut(e));
    },
    'tool-call': (e) => {
      const result = h('pre', { class: 'result' }, 'waiting for its result…');
      calls.set(e.callId, result);
      turnOf(e).tools.append(
        h(
          'details',
          { class: 'tool' },
          h('summary', {}, `Tool call ${e.name}`, h('code', {}, ` ${e.input.slice(0, 80)}`)),
          h('h4', {}, 'Arguments'),
          h('pre', {}, pretty(e.input)),
          h('h4', {}, 'Result'),
          result,
        ),
      );
    },
    'tool-result': (e) => {
      const result = calls.get(e.callId) ?? turnOf(e).tools.appendChild(h('pre', { class: 'result' }));
      result.replaceChildren(e.content, cut(e));
      result.classList.toggle('error', e.isError);
    },
    message: (e) => item('message', `Message ${e.number} from a person: `, h('span', {}, e.text), cut(e)),
    'tool-decision': (e) =>
      item(
        `tool-decision ${e.decision}`,
        `Tool call ${e.callId} ${e.decision === 'asked' ? 'waits for a person' : `${e.decision} by a person`}`,
        [e.rule, e.comment, e.input && `ran with ${e.input}`]
          .filter(Boolean)
          .map((text) => h('div', { class: 'output' }, text)),
      ),
    delegated: (e) =>
      turnOf(e).tools.append(
        h(
          'details',
          { class: 'delegated', open: true },
          h('summary', {}, `Delegated ${e.tasks.length} task${e.tasks.length === 1 ? '' : 's'} (${e.tool})`),
          h(
            'ul',
            {},
            e.tasks.map((t) => h('li', {}, `${t.agent}: ${t.description}`)),
          ),
        ),
      ),
    'delegation-result': (e) =>
      item(
        'delegation',
        'Delegated tasks came back:',
        h(
          'ul',
          {},
          e.outcomes.map((o) =>
            h(
              'li',
              {},
              h('a', { href: stepLink(runId, o.taskId) }, o.taskId),
              o.success ? ' succeeded: ' : ' failed: ',
              h('span', { class: 'output' }, o.output),
            ),
          ),
        ),
        cut(e),
      ),
    'attempt-end': (e) =>
      item(
        `attempt ${e.result}`,
        `Attempt ${e.attempt} ended: ${e.result}`,
        e.error ? ` (${e.error})` : '',
        e.droppedEvents ? `; ${e.droppedEvents} events past the step's limit were not kept` : '',
      ),
  };
  return {
    add: (events) => {
      // A turn whose end is in the same batch (a transcript opened after it, or a reconnect) shows its whole
      // text at once: its deltas would build text the end replaces. Half the events of a long transcript.
      const ended = new Set();
      for (const e of events) if (e.kind === 'turn-end') ended.add(`${e.attempt}/${e.round}`);
      for (const e of events) {
        if (e.kind === 'text-delta' && ended.has(`${e.attempt}/${e.round}`)) turnOf(e);
        else on[e.kind]?.(e);
      }
    },
  };
}

/** A tool's arguments laid out, when they are JSON. */
function pretty(input) {
  try {
    return JSON.stringify(JSON.parse(input), null, 2);
  } catch {
    return input;
  }
}
