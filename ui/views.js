import { act, api, formatMs, h, labelled, notify, tableHead } from './dom.js';
import { batchEntries, outcomesView } from './outcomes.js';
import { timelineView } from './timeline.js';

export const runPath = (id) => `/api/runs/${encodeURIComponent(id)}`;
export const runLink = (id) => `#/run/${encodeURIComponent(id)}`;
/** A step's own page: each id encoded whole, so a task id's `/` (a delegated task's) stays in it. */
export const stepLink = (id, taskId) => `${runLink(id)}/step/${encodeURIComponent(taskId)}`;
// A finished step's output head is read from history: at most this often while steps keep finishing.
const OUTPUTS_MS = 5000;

// The runs pages before this one, as the `page` tokens they were shown with ('' for the first): Previous goes
// back along them. Kept for the session; after a reload Previous goes to the first page.
const earlierPages = [];
// Which pager button was pressed, so the redrawn page gives it the focus back (keyboard use).
let pagerFocus;

/** The runs list, a page at a time; returns a refresher, which redraws the table only when the list changed. */
export async function runsView(main, params) {
  const first = await api(`/api/runs?${params}`);
  const go = (page) => {
    if (page) params.set('page', page);
    else params.delete('page');
    location.hash = `#/runs?${params}`;
  };
  const choose = (name, options) =>
    h(
      'select',
      {
        name,
        onchange: (e) => {
          params.set(name, e.target.value);
          if (!e.target.value) params.delete(name);
          earlierPages.length = 0;
          go('');
        },
      },
      h('option', { value: '' }, 'any'),
      options.map((o) => h('option', { value: o, selected: params.get(name) === o }, o)),
    );
  const list = h('section', { 'aria-label': 'Runs found' });
  const pagerButton = (label, disabled, onclick) =>
    h(
      'button',
      { type: 'button', disabled, 'data-pager': label, onclick: () => ((pagerFocus = label), onclick()) },
      label,
    );
  const pager = h('nav', { class: 'pager', 'aria-label': 'Runs pages' });
  main.replaceChildren(
    h('h1', {}, 'Runs'),
    h(
      'form',
      { class: 'filters', 'aria-label': 'Filter runs' },
      labelled('Status', choose('status', first.statuses)),
      labelled('Workflow type', choose('type', first.types)),
    ),
    list,
    pager,
  );
  const onPage = params.get('page') ?? '';
  let table;
  const render = ({ runs, next }) => {
    const sig = JSON.stringify([runs, next]);
    if (list.dataset.sig === sig) return table?.update();
    list.dataset.sig = sig;
    const none = onPage ? 'No more runs.' : 'No TAO run matches.';
    table = runs.length === 0 ? undefined : runsTable(runs);
    list.replaceChildren(table ? table.table : h('p', {}, none));
    pager.replaceChildren(
      pagerButton('Previous page', !onPage, () => go(earlierPages.pop() ?? '')),
      pagerButton('Next page', !next, () => (earlierPages.push(onPage), go(next))),
    );
  };
  render(first);
  // On the last page Next is disabled: the focus goes to Previous instead.
  if (pagerFocus)
    (
      pager.querySelector(`[data-pager="${pagerFocus}"]:not([disabled])`) ??
      pager.querySelector('button:not([disabled])')
    )?.focus();
  pagerFocus = undefined;
  return async () => render(await api(`/api/runs?${params}`));
}

// Each run's cost, read in the background a few at a time: a closed run's once (it cannot change), a running
// run's again at most every COST_MS.
const COST_MS = 10_000;
const COST_READS = 4;
const costs = new Map();

/** `$0.0123` (with tokens in its title), or '—' where no price is known. */
function costText(cost) {
  if (!cost || cost.unknown || cost.costUsd === undefined) return '—';
  return `$${cost.costUsd.toFixed(cost.costUsd < 1 ? 4 : 2)}`;
}

function runsTable(runs) {
  const cells = [];
  const table = h(
    'table',
    { class: 'runs' },
    tableHead(['Workflow id', 'Type', 'Status', 'Started', 'Duration', 'Cost'], ['Duration', 'Cost']),
    h(
      'tbody',
      {},
      runs.map((r) => {
        const duration = h('td', { class: 'num duration' });
        const cost = h('td', { class: 'num cost' }, '…');
        cells.push({ run: r, duration, cost });
        return h(
          'tr',
          {},
          h('td', {}, h('a', { href: runLink(r.workflowId) }, r.workflowId)),
          h('td', {}, typeName(r.type)),
          h('td', {}, statusChip(r.status)),
          h('td', { title: r.startTime }, shortTime(r.startTime)),
          duration,
          cost,
        );
      }),
    ),
  );
  const update = () => {
    const now = Date.now();
    for (const { run, duration } of cells) {
      const end = run.closeTime ? Date.parse(run.closeTime) : now;
      duration.textContent = formatMs(Math.max(0, end - Date.parse(run.startTime)));
      duration.title = run.closeTime ? `closed ${run.closeTime}` : 'running';
    }
    readCosts(cells);
  };
  update();
  return { table, update };
}

let costReads = 0;
function readCosts(cells) {
  const show = ({ run, cost }) => {
    const known = costs.get(run.runId);
    cost.textContent = known ? costText(known.cost) : '…';
    if (known?.cost && !known.cost.unknown)
      cost.title = `${known.cost.inputTokens} in / ${known.cost.outputTokens} out tokens`;
  };
  const due = cells.filter(({ run }) => {
    const known = costs.get(run.runId);
    return !known || (!run.closeTime && !known.reading && Date.now() - known.at >= COST_MS);
  });
  // Marked at once, so a refresh while these wait their turn does not ask again.
  for (const { run } of due) costs.set(run.runId, { ...costs.get(run.runId), reading: true, at: Date.now() });
  cells.forEach(show);
  const next = () => {
    const cell = due.shift();
    if (!cell) return;
    if (!cell.cost.isConnected) {
      costs.delete(cell.run.runId);
      return next();
    }
    costReads++;
    api(`${runPath(cell.run.workflowId)}/cost`)
      .then((cost) => costs.set(cell.run.runId, { cost, at: Date.now() }))
      .catch(() => costs.set(cell.run.runId, { cost: { unknown: true }, at: Date.now() }))
      .finally(() => {
        costReads--;
        show(cell);
        next();
      });
  };
  while (costReads < COST_READS && due.length) next();
}

/** `parallelWorkflow` as `parallel`: the kind, as spec files name it. */
const typeName = (type) => type.replace(/Workflow$/, '').replace(/^resumableParallel$/, 'resumable');

/** A run's or a step's status as a coloured chip. */
export const statusChip = (status, extra = '') =>
  h('span', { class: `chip status ${status}` }, statusName(status) + extra);

/** Temporal's `CONTINUED_AS_NEW` as `Continued as new`; TAO's step statuses as they are. */
const statusName = (status) =>
  /^[A-Z_]+$/.test(status) ? status[0] + status.slice(1).toLowerCase().replaceAll('_', ' ') : status;

/** `2026-12-05 00:12:03`, in the page's time zone. */
function shortTime(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A run's page; returns a refresher the router calls every second while it is shown. */
export async function runView(main, id, params) {
  const linkOf = (taskId) => stepLink(id, taskId);
  // The page's frame at once, and the timeline's history read beside the run's view, not after it: a closed
  // run's progress is a replay of its history on a worker, the slower of the two.
  const timeline = timelineView(runPath(id), (taskId) => (location.hash = linkOf(taskId)));
  const summary = h('dl', { class: 'summary' });
  const steps = h('section', { 'aria-label': 'Steps' });
  const rows = new Map();
  const partitions = h('section', { 'aria-label': 'Partitions', hidden: true });
  main.replaceChildren(h('h1', {}, id), summary, steering(id), partitions, timeline.section, steps);
  timeline.load().catch((error) => notify(`Reading the run's timeline failed: ${error.message}`, true));
  const view = await api(runPath(id));
  // A batch's steps are its outcomes, paged from the store; its table of steps holds those in flight.
  const outcomes = view.batch ? outcomesView(id, params) : undefined;
  if (outcomes) {
    steps.before(outcomes.section);
    await outcomes.load(view);
  }
  const render = () => {
    renderSummary(summary, view);
    renderPartitions(partitions, view.progress?.partitions ?? []);
    renderSteps(steps, view, rows, linkOf, heads);
  };
  // Finished steps' output heads, `<taskId>#<n>` for its n-th time (a loop's rounds), read in the background
  // (the table never waits for them): again only when more steps have finished, at most every OUTPUTS_MS, and
  // one read at a time, since each read is the run's whole history.
  const heads = new Map();
  let headsFor = 0;
  let headsAt = 0;
  let reading = false;
  const readHeads = async () => {
    const finished = (view.progress?.steps ?? []).filter(
      (s) => !['pending', 'waiting', 'running'].includes(s.status),
    ).length;
    if (reading || finished <= headsFor || Date.now() - headsAt < OUTPUTS_MS) return;
    [headsFor, headsAt, reading] = [finished, Date.now(), true];
    try {
      const { outputs } = await api(`${runPath(id)}/outputs`);
      heads.clear();
      for (const { taskId, head } of outputs) {
        let n = 1;
        while (heads.has(`${taskId}#${n}`)) n++;
        heads.set(`${taskId}#${n}`, head);
      }
      if (location.hash === shown) render();
    } catch (error) {
      notify(`Reading finished steps' outputs failed: ${error.message}`, true);
    } finally {
      reading = false;
    }
  };
  const shown = location.hash;
  const refresh = (fresh) => {
    Object.assign(view, fresh);
    render();
    // A batch's outputs are in the outcome store, not its history.
    if (!view.batch) readHeads();
  };
  refresh(view);
  return async () => {
    refresh(await api(runPath(id)));
    await outcomes?.refresh(view);
    // Not awaited: a history read of a big run, or on a busy server, must not hold the steps' next refresh
    // (the timeline reads one at a time on its own).
    timeline
      .refresh(view.status === 'RUNNING')
      .catch((error) => notify(`Reading the run's timeline failed: ${error.message}`, true));
  };
}

function renderSummary(summary, view) {
  const p = view.progress;
  const batch = view.batch && batchEntries(view.batch, view.status === 'RUNNING');
  const entries = [
    ['Type', view.type],
    ['Status', statusChip(view.status)],
    ['Task queue', view.taskQueue],
    ['Started', view.startTime],
    [
      'Duration',
      formatMs(
        Math.max(0, (view.closeTime ? Date.parse(view.closeTime) : Date.now()) - Date.parse(view.startTime)),
      ),
    ],
    ['Source', batch?.source],
    [
      'Progress',
      batch?.progress ??
        (p
          ? Object.entries(p.totals)
              .filter(([k, n]) => n && k !== 'all')
              .map(([k, n]) => `${n} ${k}`)
              .join(', ') || 'no steps yet'
          : 'no worker answered'),
    ],
    [
      'Steering',
      p
        ? `${p.paused ? 'paused' : 'not paused'}${p.concurrency ? `, concurrency ${p.concurrency}` : ''}`
        : '',
    ],
    [
      'Usage',
      batch?.usage ??
        (p ? `${p.usage.inputTokens} in / ${p.usage.outputTokens} out tokens${runCostText(p)}` : ''),
    ],
    ['Budget', p?.budget ? budgetText(p.budget) : 'none'],
    ['Round', p?.loop ? `${p.loop.round} of ${p.loop.maxIterations}` : undefined],
  ];
  summary.replaceChildren(
    ...entries.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

/** A run too big for one history is split into child runs, each with its own page. */
function renderPartitions(section, partitions) {
  section.hidden = partitions.length === 0;
  // Redrawn only on a change, so a focused link keeps its focus across refreshes.
  const sig = JSON.stringify(partitions);
  if (section.hidden || section.dataset.sig === sig) return;
  section.dataset.sig = sig;
  section.replaceChildren(
    h('h2', {}, 'Partitions'),
    h(
      'table',
      {},
      tableHead(['Child run', 'Steps or items', 'Status', 'Error']),
      h(
        'tbody',
        {},
        partitions.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: runLink(p.workflowId) }, p.workflowId)),
            h('td', {}, `${p.first + 1}–${p.first + p.count}`),
            h('td', {}, statusChip(p.status)),
            h('td', {}, p.error ?? ''),
          ),
        ),
      ),
    ),
  );
}

/** The run's dollars so far: the budget's spend, else its steps' priced usage; nothing when none is priced. */
function runCostText(p) {
  const priced = p.steps.filter(
    (s) => s.usage?.costUsd !== undefined && !['cached', 'reused'].includes(s.status),
  );
  const cost =
    p.budget?.spent.costUsd ?? (priced.length ? priced.reduce((n, s) => n + s.usage.costUsd, 0) : undefined);
  return cost === undefined ? '' : `, $${cost.toFixed(4)}`;
}

function budgetText({ limits, spent }) {
  const part = (name, used, limit, fmt = String) =>
    `${name} ${fmt(used)}${limit !== undefined ? ` of ${fmt(limit)}` : ''}`;
  return [
    part('tokens', spent.tokens, limits.maxTokens),
    part('steps', spent.steps, limits.maxSteps),
    part('cost', spent.costUsd, limits.maxCostUsd, (n) => `$${n.toFixed(4)}`),
  ].join(', ');
}

function steering(id) {
  const post = (action, body = {}) => api(`${runPath(id)}/${action}`, body);
  const limit = h('input', { type: 'number', min: 1, name: 'concurrency' });
  const budget = ['maxTokens', 'maxSteps', 'maxCostUsd'].map((name) =>
    h('input', { type: 'number', min: 0, step: 'any', name }),
  );
  return h(
    'section',
    { 'aria-label': 'Steering', class: 'steering' },
    h('button', { type: 'button', onclick: () => act('Pause', () => post('pause')) }, 'Pause'),
    h('button', { type: 'button', onclick: () => act('Resume', () => post('resume')) }, 'Resume'),
    h(
      'form',
      {
        onsubmit: (e) => {
          e.preventDefault();
          act('Concurrency', () => post('concurrency', { limit: Number(limit.value) }));
        },
      },
      labelled('Concurrency', limit),
      h('button', {}, 'Set concurrency'),
    ),
    h(
      'form',
      {
        onsubmit: (e) => {
          e.preventDefault();
          const limits = Object.fromEntries(
            budget.filter((i) => i.value !== '').map((i) => [i.name, Number(i.value)]),
          );
          act('Budget', () => post('budget', limits));
        },
      },
      labelled('Max tokens', budget[0]),
      labelled('Max steps', budget[1]),
      labelled('Max cost (USD)', budget[2]),
      h('button', {}, 'Set budget'),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: () => confirm(`Cancel the whole run ${id}?`) && act('Cancel run', () => post('cancel')),
      },
      'Cancel run',
    ),
  );
}

/** Steps in the order and shape of the run's kind; rows are kept and redrawn only when they change. */
function renderSteps(container, view, rows, linkOf, heads) {
  const all = view.progress?.steps ?? [];
  const live = new Map(view.running.map((r) => [r.taskId, r]));
  const kind =
    view.type === 'pipelineWorkflow'
      ? 'grid'
      : all.some((s) => s.parentTaskId)
        ? 'tree'
        : view.type === 'loopWorkflow'
          ? 'rounds'
          : 'table';
  // A batch sends only its steps in flight: none once it has settled them all.
  container.hidden = Boolean(view.batch) && all.length === 0;
  if (container.dataset.kind !== kind) {
    container.dataset.kind = kind;
    rows.clear();
    container.replaceChildren(
      h(
        'h2',
        {},
        view.batch
          ? 'Steps in flight'
          : { grid: 'Items × stages', tree: 'Delegation tree', rounds: 'Rounds', table: 'Steps' }[kind],
      ),
    );
  }
  if (kind === 'grid') return renderGrid(container, all, live, rows, linkOf, heads);
  let body = container.querySelector('tbody');
  if (!body) {
    const first = kind === 'rounds' ? 'Round' : 'Step';
    body = h('tbody');
    container.append(
      h(
        'table',
        { class: 'steps' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [first, 'Agent', 'Status', 'Attempt', 'Duration', 'Tokens', 'Cost', 'Latest output'].map((c) =>
              h('th', { scope: 'col' }, c),
            ),
          ),
        ),
        body,
      ),
    );
  }
  const ordered = kind === 'tree' ? treeOrder(all) : all;
  const seen = new Map();
  const wanted = ordered.map((step) => {
    const round = (seen.get(step.taskId) ?? 0) + 1;
    seen.set(step.taskId, round);
    const key = `${step.key}#${round}`;
    const running = live.get(step.taskId);
    const head = heads.get(`${step.taskId}#${round}`);
    const sig = JSON.stringify([step, running?.output, head, kind]);
    let row = rows.get(key);
    if (!row || row.sig !== sig) {
      const el = stepRow(step, running, head, kind === 'rounds' ? `round ${round}` : undefined, linkOf);
      if (row) row.el.replaceWith(el);
      row = { el, sig };
      rows.set(key, row);
    }
    return row.el;
  });
  if (body.children.length !== wanted.length || wanted.some((el, i) => body.children[i] !== el))
    body.replaceChildren(...wanted);
}

function stepRow(step, running, head, round, linkOf) {
  const usage = step.usage;
  const id = step.taskId ?? step.key;
  return h(
    'tr',
    { class: `depth-${Math.min(step.depth ?? 0, 5)}` },
    h('th', { scope: 'row' }, round ? `${round} ` : '', h('a', { href: linkOf(id) }, id)),
    h('td', {}, step.agent ?? ''),
    h('td', {}, statusChip(step.status, step.decision ? ` (${step.decision})` : '')),
    h('td', {}, running?.attempt ?? step.attempt),
    h('td', {}, formatMs(step.durationMs)),
    h('td', {}, usage ? `${usage.inputTokens} / ${usage.outputTokens}` : ''),
    h('td', {}, usage?.costUsd !== undefined ? `$${usage.costUsd.toFixed(4)}` : ''),
    h('td', { class: 'output' }, running?.output ? lastLine(running.output) : (step.error ?? head ?? '')),
  );
}

const lastLine = (text) => text.trimEnd().split('\n').pop().slice(-200);

/** Parents first, each followed by the tasks it delegated. */
function treeOrder(steps) {
  const children = new Map();
  for (const s of steps)
    if (s.parentTaskId) children.set(s.parentTaskId, [...(children.get(s.parentTaskId) ?? []), s]);
  const out = [];
  const walk = (s) => {
    out.push(s);
    for (const c of children.get(s.taskId) ?? []) walk(c);
  };
  for (const s of steps) if (!s.parentTaskId || !steps.some((p) => p.taskId === s.parentTaskId)) walk(s);
  return out;
}

function renderGrid(container, steps, live, cells, linkOf, heads) {
  const items = Math.max(0, ...steps.map((s) => (s.item ?? 0) + 1));
  const stages = Math.max(0, ...steps.map((s) => (s.stage ?? 0) + 1));
  let table = container.querySelector('table');
  if (!table || table.dataset.size !== `${items}x${stages}`) {
    cells.clear();
    table = h(
      'table',
      { class: 'grid', 'data-size': `${items}x${stages}` },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Item'),
          Array.from({ length: stages }, (_, s) => h('th', { scope: 'col' }, `Stage ${s + 1}`)),
        ),
      ),
      h(
        'tbody',
        {},
        Array.from({ length: items }, (_, i) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, `Item ${i + 1}`),
            Array.from({ length: stages }, (_, s) => {
              const td = h('td', { 'data-cell': `${i}/${s}` });
              cells.set(`${i}/${s}`, { el: td, sig: '' });
              return td;
            }),
          ),
        ),
      ),
    );
    container.querySelector('table')?.remove();
    container.append(table);
  }
  for (const step of steps) {
    const cell = cells.get(`${step.item}/${step.stage}`);
    const running = live.get(step.taskId);
    const head = heads.get(`${step.taskId}#1`);
    const sig = JSON.stringify([step, running?.output, head]);
    if (!cell || cell.sig === sig) continue;
    cell.sig = sig;
    cell.el.className = `status ${step.status}`;
    cell.el.replaceChildren(
      step.taskId ? h('a', { href: linkOf(step.taskId) }, step.taskId) : step.key,
      h('span', { class: 'state' }, step.status),
      running?.output || head
        ? h('span', { class: 'output' }, running?.output ? lastLine(running.output) : head)
        : '',
    );
  }
}

/** What the person is asked: start the step, let its output count, run it past a spent budget, or answer its agent. */
function decisionLabel(p) {
  if (p.decision === 'after') return 'Ran; its output waits to count:';
  if (p.decision === 'question') return 'Its agent asks:';
  if (p.decision === 'tool') return 'Its agent wants to run a tool call that needs your approval:';
  if (p.decision === 'budget') {
    return `Waiting to start on a spent budget (${p.reason ?? 'budget exhausted'}): approve runs it past the limit, or raise the budget on the run's page. Prompt:`;
  }
  return 'Waiting to start. Prompt:';
}

/** The answer to a step's question, as `tao answer`: the agent goes on with it. */
function answerForm(runId, taskId, after) {
  const text = h('textarea', { name: 'answer', rows: 3, required: true });
  const send = async (e) => {
    e.preventDefault();
    if (await act(`Answer ${taskId}`, () => api(`${runPath(runId)}/answer`, { taskId, text: text.value })))
      after();
  };
  return h(
    'form',
    { class: 'decision', 'aria-label': `Answer to ${taskId}`, onsubmit: send },
    labelled('Answer', text),
    h('button', {}, 'Answer'),
  );
}

/**
 * A tool call's decision, as `tao approve [--input] [--for-run]` and `tao reject`: the arguments are
 * editable JSON, sent only when changed; the comment goes to the agent.
 */
function toolCallForm(runId, taskId, toolCall, after) {
  const original = JSON.stringify(toolCall?.input ?? {}, null, 2);
  const input = h('textarea', { name: 'input', rows: 4, spellcheck: false }, original);
  const comment = h('input', { type: 'text', name: 'comment' });
  const decide = (verdict, forRun) => async (e) => {
    e.preventDefault();
    const body = { taskId, ...(comment.value ? { comment: comment.value } : {}) };
    if (verdict === 'approve' && input.value.trim() !== original.trim()) {
      try {
        body.input = JSON.parse(input.value);
      } catch (error) {
        return notify(
          `The arguments are not JSON (${error.message}); fix them or put the original back.`,
          true,
        );
      }
    }
    if (forRun) body.forRun = true;
    const label = `${verdict === 'approve' ? 'Approve' : 'Reject'} ${taskId}'s ${toolCall?.tool ?? 'tool'} call`;
    if (await act(label, () => api(`${runPath(runId)}/${verdict}`, body))) after();
  };
  return h(
    'form',
    {
      class: 'decision',
      'aria-label': `Decision on ${taskId}'s tool call`,
      onsubmit: decide('approve', false),
    },
    labelled('Arguments (edit to run a changed call)', input),
    labelled('Comment (the agent reads it)', comment),
    h('button', {}, 'Approve'),
    h('button', { type: 'button', onclick: decide('approve', true) }, 'Approve for this run'),
    h('button', { type: 'button', onclick: decide('reject', false) }, 'Reject'),
  );
}

/** Approve, reject, or edit the output and approve, with a comment: the CLI's `approve` and `reject`. */
export function decisionForm(runId, taskId, decision, output, after, toolCall) {
  if (decision === 'question') return answerForm(runId, taskId, after);
  if (decision === 'tool') return toolCallForm(runId, taskId, toolCall, after);
  const comment = h('input', { type: 'text', name: 'comment' });
  const edited = decision === 'after' ? h('textarea', { name: 'output', rows: 6 }, output ?? '') : undefined;
  const decide = (verdict) => async (e) => {
    e.preventDefault();
    const body = { taskId, ...(comment.value ? { comment: comment.value } : {}) };
    if (verdict === 'approve' && edited && edited.value !== (output ?? '')) body.output = edited.value;
    if (
      await act(`${verdict === 'approve' ? 'Approve' : 'Reject'} ${taskId}`, () =>
        api(`${runPath(runId)}/${verdict}`, body),
      )
    )
      after();
  };
  return h(
    'form',
    { class: 'decision', 'aria-label': `Decision on ${taskId}`, onsubmit: decide('approve') },
    edited ? labelled('Output (edit to approve a changed output)', edited) : '',
    labelled('Comment', comment),
    h('button', {}, 'Approve'),
    h('button', { type: 'button', onclick: decide('reject') }, 'Reject'),
  );
}

/**
 * The inbox: its heading and Refresh button at once, the waiting steps once `/api/inbox` answers (it asks every
 * run with a waiting step for what is to be decided, which takes a while in a busy namespace). It reads again
 * only on Refresh or after a decision, so a comment or an edited output being typed is never redrawn away.
 */
export async function inboxView(main) {
  const shown = location.hash;
  const list = h('section', { 'aria-label': 'Waiting steps' });
  const render = async () => {
    list.setAttribute('aria-busy', 'true');
    list.replaceChildren(h('p', { class: 'loading' }, 'Loading the steps waiting for a decision…'));
    let pending;
    let unanswered;
    try {
      ({ pending, unanswered } = await api('/api/inbox'));
    } catch (error) {
      list.replaceChildren();
      throw error;
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
    // Left while it read: the page shows another view now.
    if (location.hash !== shown) return;
    list.replaceChildren(
      pending.length === 0 ? h('p', {}, 'No step is waiting for a decision.') : '',
      unanswered.length ? h('p', {}, `No worker answered for: ${unanswered.join(', ')}`) : '',
      ...pending.map((p) =>
        h(
          'article',
          { class: 'pending', 'aria-label': `${p.workflowId} ${p.taskId}` },
          h(
            'h2',
            {},
            h('a', { href: runLink(p.workflowId) }, p.workflowId),
            ` · ${p.taskId}`,
            p.agent ? ` (${p.agent})` : '',
          ),
          h('p', {}, decisionLabel(p)),
          h('pre', {}, p.text ?? '(not available)'),
          decisionForm(p.workflowId, p.taskId, p.decision, p.text, reread, p.toolCall),
        ),
      ),
    );
  };
  // From the Refresh button or after a decision: a failed read is said in the notice, as an action's is.
  const reread = () => render().catch((error) => notify(`Reading the inbox failed: ${error.message}`, true));
  main.replaceChildren(
    h('h1', {}, 'Inbox'),
    h('button', { type: 'button', onclick: reread }, 'Refresh'),
    list,
  );
  await render();
  if (location.hash !== shown) return;
  notify('', false);
  document.getElementById('notice').hidden = true;
}
