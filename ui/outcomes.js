import { api, h, labelled, tableHead } from './dom.js';
import { outcomeBlocks, stepUsageText } from './step.js';
import { runLink, runPath, statusChip, stepLink } from './views.js';

/**
 * A batch run's part of its page (issue #33): its counts, and its outcomes read from the outcome store a page
 * at a time (GET /api/runs/<id>/outcomes). A page is keyed by the last seq before it (`after`), the store's own
 * keyset, so page 500 of 100,000 outcomes costs what the first does; Previous goes back along the cursors this
 * page came by, kept here (after a reload it goes to the first page, as the runs list does). The page and the
 * filter are in the address (`?after=…&failed=1`), so a reload or a shared link shows the same outcomes.
 */
const PAGE_SIZE = 100;

/**
 * The run page's summary lines for a batch: where its steps come from, what settled (the run's, not one
 * execution's), what it cost. Before its result, from its progress, else (no worker answered) its history.
 */
export function batchEntries(batch, running) {
  const counts = `${batch.succeeded} succeeded, ${batch.failed} failed`;
  const inFlight = running ? `; ${batch.inFlight} in flight` : '';
  const steps = {
    result: `${batch.total} steps: ${counts}`,
    progress: `${batch.total} settled so far: ${counts}${inFlight}`,
    history: `${batch.total} settled so far (from history: no worker answered): ${counts}${inFlight}`,
  }[batch.counted];
  const { inputTokens, outputTokens, costUsd } = batch.usage;
  return {
    source: batch.source,
    progress: steps,
    usage: `${inputTokens} in / ${outputTokens} out tokens${costUsd > 0 ? `, $${costUsd.toFixed(4)}` : ''}`,
  };
}

/** The outcomes' section; `refresh(view)` with each run refresh reads the page again while steps land on it. */
export function outcomesView(id, params) {
  let after = params.get('after') ?? '';
  let failedOnly = params.get('failed') === '1';
  const earlier = [];
  let shown;
  let readFor;
  const caption = h('p', { class: 'outcomes-caption', 'aria-live': 'polite' });
  const body = h('tbody');
  const pagerButton = (label, onclick) =>
    h('button', { type: 'button', 'data-pager': label, onclick }, label);
  const previous = pagerButton('Previous page', () => go(earlier.pop() ?? ''));
  const next = pagerButton('Next page', () => (earlier.push(after), go(String(shown.next))));
  const failed = h('input', {
    type: 'checkbox',
    name: 'failed',
    checked: failedOnly,
    onchange: () => {
      failedOnly = failed.checked;
      earlier.length = 0;
      go('');
    },
  });
  const section = h(
    'section',
    { 'aria-label': 'Outcomes', class: 'outcomes' },
    h('h2', {}, 'Outcomes'),
    h('form', { class: 'filters', 'aria-label': 'Filter outcomes' }, labelled('Failed only', failed)),
    caption,
    h(
      'table',
      { class: 'outcomes' },
      tableHead(['Seq', 'Task', 'Agent', 'Result', 'Output or error', 'Tokens'], ['Seq', 'Tokens']),
      body,
    ),
    h('nav', { class: 'pager', 'aria-label': 'Outcome pages' }, previous, next),
  );

  const query = () => {
    const q = new URLSearchParams();
    if (after !== '') q.set('after', after);
    if (failedOnly) q.set('failed', '1');
    return q;
  };
  const read = async () => {
    const asked = query().toString();
    const page = await api(`${runPath(id)}/outcomes?${asked}`);
    // A refresh's read that a page turn overtook: the page shown now is another.
    if (asked !== query().toString()) return;
    const sig = JSON.stringify(page);
    if (body.dataset.sig !== sig) {
      body.dataset.sig = sig;
      body.replaceChildren(...page.outcomes.map((row) => outcomeRow(id, row)));
    }
    shown = page;
    previous.disabled = after === '';
    next.disabled = page.next === undefined;
    describe();
  };
  // The page number is known when the page came by Next from the first; after a reload deep in, the seqs say where.
  const describe = () => {
    const rows = shown.outcomes;
    const of = readFor && (failedOnly ? readFor.failed : readFor.total);
    if (rows.length === 0) {
      caption.textContent = failedOnly ? 'No step failed.' : 'No outcome in the store yet.';
      return;
    }
    const place = after === '' || earlier.length ? `Page ${earlier.length + 1}` : 'Outcomes';
    const pages =
      of !== undefined && place !== 'Outcomes' ? ` of ${Math.max(1, Math.ceil(of / PAGE_SIZE))}` : '';
    caption.textContent = `${place}${pages}: seq ${rows[0].seq} to ${rows.at(-1).seq}${failedOnly ? ', failed only' : ''}`;
  };
  const go = async (to) => {
    after = to;
    // The address keeps the page without a navigation: the run's page and its refresher stay as they are.
    const q = query().toString();
    history.replaceState(null, '', `${runLink(id)}${q ? `?${q}` : ''}`);
    await read();
    // The button pressed keeps the focus, unless it is now disabled (the first or last page).
    if (document.activeElement?.disabled) section.querySelector('[data-pager]:not([disabled])')?.focus();
  };
  return {
    section,
    load: (view) => {
      readFor = view.batch;
      return read();
    },
    // While steps settle, the page is read again (a keyset read of one page): steps run side by side, so a
    // later step's outcome may land before an earlier one's, on any page. Redrawn only when it changed.
    refresh: async (view) => {
      const settledMore = view.batch.total !== readFor?.total;
      readFor = view.batch;
      if (settledMore && shown) await read();
      else if (shown) describe();
    },
  };
}

/** A row; opening it (a click, or its seq's button) shows the whole outcome under it, read from the store. */
function outcomeRow(id, row) {
  const tokens = row.inputTokens !== undefined ? `${row.inputTokens} / ${row.outputTokens}` : '';
  const open = h('button', { type: 'button', class: 'seq', 'aria-expanded': 'false' }, String(row.seq));
  const tr = h(
    'tr',
    { 'data-seq': row.seq },
    h('th', { scope: 'row', class: 'num' }, open),
    h('td', { class: 'task' }, row.taskId),
    h('td', {}, row.agent),
    h('td', {}, statusChip(row.success ? 'succeeded' : 'failed')),
    h('td', { class: 'output' }, row.preview),
    h(
      'td',
      { class: 'num', title: row.costUsd !== undefined ? `$${row.costUsd.toFixed(4)}` : undefined },
      tokens,
    ),
  );
  tr.addEventListener('click', (e) => {
    if (e.target.closest('a, .outcome-detail')) return;
    toggle(id, row, tr, open);
  });
  return tr;
}

async function toggle(id, row, tr, button) {
  const opened = tr.nextElementSibling?.classList.contains('outcome-detail')
    ? tr.nextElementSibling
    : undefined;
  for (const other of tr.parentElement.querySelectorAll('tr.outcome-detail')) {
    other.previousElementSibling?.querySelector('button.seq')?.setAttribute('aria-expanded', 'false');
    other.remove();
  }
  if (opened) return;
  const cell = h('td', { colspan: 6 }, h('p', { class: 'loading' }, `Reading outcome ${row.seq}…`));
  tr.after(h('tr', { class: 'outcome-detail' }, cell));
  button.setAttribute('aria-expanded', 'true');
  try {
    const { outcome: o } = await api(`${runPath(id)}/outcomes/${row.seq}`);
    cell.replaceChildren(
      h(
        'section',
        { class: 'detail', 'aria-label': `Outcome ${row.seq}` },
        h('h3', {}, `Outcome ${row.seq}: ${o.taskId}`),
        h(
          'p',
          {},
          statusChip(o.success ? 'succeeded' : 'failed'),
          ` ${o.agent}`,
          o.usage ? `, ${stepUsageText(o.usage)}` : '',
          ' · ',
          h('a', { href: stepLink(id, o.taskId) }, 'its step page (transcript)'),
        ),
        ...outcomeBlocks(o),
      ),
    );
  } catch (error) {
    cell.replaceChildren(h('p', {}, `Reading outcome ${row.seq} failed: ${error.message}`));
  }
}
