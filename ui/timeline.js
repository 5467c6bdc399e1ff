import { api, formatMs, h } from './dom.js';

/**
 * A run's timeline (GET /api/runs/<id>/timeline, read from the run's history): one bar per step over time,
 * its spans coloured by what it did (queued, earlier attempts, running, waiting for a person, waiting for the
 * tasks it delegated), delegated tasks under their parent. One canvas the size of what shows, redrawn from
 * the rows in view: a 2,000-step run costs no more DOM than a 5-step one.
 */
const ROW = 20;
const AXIS = 22;
const LABEL = 220;
const VIEW_ROWS = 18;
// History is read again at most this often while the run runs; open bars grow every second in between.
const READ_MS = 5000;

const COLOURS = {
  queued: '#d0d7de',
  retrying: '#fb8f44',
  running: '#54aeff',
  succeeded: '#2da44e',
  failed: '#cf222e',
  waiting: '#d4a72c',
  delegated: '#a475f9',
};
const LEGEND = [
  ['running', 'running'],
  ['succeeded', 'attempt succeeded'],
  ['failed', 'attempt failed'],
  ['retrying', 'earlier attempts and backoff'],
  ['queued', 'queued'],
  ['waiting', 'waiting for a decision'],
  ['delegated', 'waiting for delegated tasks'],
];

/** The timeline's section; `refresh(view)` is called with each run refresh, `onStep(taskId)` opens a step. */
export function timelineView(runPath, onStep) {
  const canvas = h('canvas', { role: 'img', 'aria-label': 'Timeline of the run’s steps' });
  const spacer = h('div', { class: 'timeline-spacer' });
  const scroller = h('div', { class: 'timeline-scroll', tabindex: 0 }, spacer);
  const tip = h('div', { class: 'timeline-tip', hidden: true });
  const caption = h('p', { class: 'timeline-caption' });
  const section = h(
    'section',
    { class: 'timeline', 'aria-label': 'Timeline', hidden: true },
    h('h2', {}, 'Timeline'),
    caption,
    h('div', { class: 'timeline-frame' }, canvas, scroller, tip),
    h(
      'ul',
      { class: 'legend', 'aria-label': 'Timeline legend' },
      LEGEND.map(([kind, label]) => h('li', {}, h('span', { class: 'swatch', 'data-kind': kind }), label)),
    ),
  );
  for (const swatch of section.querySelectorAll('.swatch'))
    swatch.style.background = COLOURS[swatch.dataset.kind];
  let data;
  let receivedAt = 0;
  let readAt = 0;
  let reading = false;
  let width = 0;

  const clock = () => data.end ?? data.now + (Date.now() - receivedAt);
  const scale = () => {
    const from = data.start;
    const to = Math.max(clock(), from + 1000);
    const plot = Math.max(100, width - LABEL - 16);
    return { from, to, x: (t) => LABEL + ((t - from) / (to - from)) * plot };
  };

  const draw = () => {
    // Read before the page around it is shown (it is asked for at once): drawn once it is in the page.
    if (!data || !section.isConnected) return;
    const rows = data.steps.length;
    const ratio = window.devicePixelRatio || 1;
    width = scroller.clientWidth || section.clientWidth || 900;
    const height = AXIS + Math.min(rows, VIEW_ROWS) * ROW + 4;
    scroller.style.height = `${height}px`;
    spacer.style.height = `${AXIS + rows * ROW + 4}px`;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const { from, to, x } = scale();
    const now = clock();
    const top = scroller.scrollTop;
    const first = Math.floor(top / ROW);
    const last = Math.min(rows, first + VIEW_ROWS + 1);
    g.font = '12px system-ui, sans-serif';
    g.textBaseline = 'middle';
    for (let i = first; i < last; i++) {
      const step = data.steps[i];
      const y = AXIS + i * ROW - top;
      if (i % 2) {
        g.fillStyle = '#f6f8fa';
        g.fillRect(0, y, width, ROW);
      }
      g.fillStyle = '#1f2328';
      const indent = 8 + Math.min(step.depth, 6) * 14;
      g.fillText(fit(g, (step.depth ? '↳ ' : '') + step.taskId, LABEL - indent - 8), indent, y + ROW / 2);
      for (const span of step.spans) {
        const x0 = x(span.start);
        const x1 = Math.max(x0 + 2, x(span.end ?? now));
        g.fillStyle = colourOf(span);
        g.fillRect(x0, y + 4, x1 - x0, ROW - 8);
      }
      if (step.retries > 0) {
        const end = step.spans.at(-1);
        const xe = end ? Math.max(x(end.start) + 2, x(end.end ?? now)) : LABEL;
        g.fillStyle = '#57606a';
        g.fillText(`↻${step.retries}`, Math.min(xe + 4, width - 24), y + ROW / 2);
      }
    }
    // The axis over the rows: a tick every "round" interval.
    g.fillStyle = '#ffffff';
    g.fillRect(0, 0, width, AXIS);
    g.strokeStyle = '#d0d7de';
    g.fillStyle = '#57606a';
    g.beginPath();
    const step = tickMs((to - from) / 6);
    for (let t = 0; from + t <= to; t += step) {
      const xt = Math.round(x(from + t)) + 0.5;
      g.moveTo(xt, AXIS - 4);
      g.lineTo(xt, height);
      g.fillText(t === 0 ? '0' : formatMs(t), xt + 3, AXIS / 2);
    }
    g.moveTo(0, AXIS - 0.5);
    g.lineTo(width, AXIS - 0.5);
    g.stroke();
    canvas.dataset.drawn = String(rows);
  };

  const spanAt = (event) => {
    if (!data) return {};
    const box = scroller.getBoundingClientRect();
    const py = event.clientY - box.top + scroller.scrollTop - AXIS;
    const step = data.steps[Math.floor(py / ROW)];
    if (!step || py < 0) return {};
    const t = (() => {
      const { from, to } = scale();
      const plot = Math.max(100, width - LABEL - 16);
      return from + ((event.clientX - box.left - LABEL) / plot) * (to - from);
    })();
    const now = clock();
    const span = step.spans.find((s) => s.start <= t && t <= (s.end ?? now));
    return { step, span };
  };
  scroller.addEventListener('scroll', () => requestAnimationFrame(draw));
  scroller.addEventListener('mousemove', (event) => {
    const { step, span } = spanAt(event);
    scroller.style.cursor = step ? 'pointer' : '';
    if (!step) return void (tip.hidden = true);
    tip.textContent = `${step.taskId}${span ? ` · ${describe(span, clock())}` : ''}${step.retries ? ` · ${retries(step.retries)}` : ''}`;
    tip.style.left = `${Math.min(event.offsetX + 12, width - 260)}px`;
    tip.style.top = `${event.clientY - scroller.getBoundingClientRect().top + 14}px`;
    tip.hidden = false;
  });
  scroller.addEventListener('mouseleave', () => (tip.hidden = true));
  scroller.addEventListener('click', (event) => {
    const { step } = spanAt(event);
    if (step) onStep(step.taskId);
  });
  window.addEventListener('resize', () => requestAnimationFrame(draw));

  const read = async () => {
    if (reading) return;
    reading = true;
    readAt = Date.now();
    try {
      data = await api(`${runPath}/timeline`);
      receivedAt = Date.now();
      section.hidden = data.steps.length === 0;
      caption.textContent = summary(data);
      draw();
    } finally {
      reading = false;
    }
  };

  return {
    section,
    /** The first read, asked for before the section is in the page; `draw` once it is. */
    load: read,
    draw,
    refresh: async (running) => {
      // Read again while it runs, and once more when it has closed since the last read.
      const closedSince = !running && data && data.end === undefined;
      if ((running && Date.now() - readAt >= READ_MS) || closedSince) await read();
      else draw();
    },
  };
}

function colourOf(span) {
  if (span.kind !== 'running') return COLOURS[span.kind];
  if (span.end === undefined) return COLOURS.running;
  return span.failed ? COLOURS.failed : COLOURS.succeeded;
}

function describe(span, now) {
  const took = formatMs(Math.max(0, (span.end ?? now) - span.start));
  const open = span.end === undefined ? ', so far' : '';
  switch (span.kind) {
    case 'running':
      return `attempt ${span.attempt}: ${took}${open}${span.failed ? `, ${span.failed}` : ''}`;
    case 'retrying':
      return `${span.attempt} earlier attempt${span.attempt === 1 ? '' : 's'} and backoff: ${took}`;
    case 'waiting':
      return `waiting for ${span.for === 'answer' ? 'an answer' : `a decision (${span.for})`}: ${took}${open}`;
    case 'delegated':
      return `its delegated tasks ran: ${took}${open}`;
    default:
      return `queued: ${took}${open}`;
  }
}

const retries = (n) => `${n} retr${n === 1 ? 'y' : 'ies'}`;

function summary(data) {
  const steps = data.steps.length;
  const retried = data.steps.filter((s) => s.retries > 0).length;
  const waited = data.steps.filter((s) => s.spans.some((p) => p.kind === 'waiting')).length;
  const delegated = data.steps.filter((s) => s.parentTaskId !== undefined).length;
  const took = formatMs((data.end ?? data.now) - data.start);
  return [
    `${steps} step${steps === 1 ? '' : 's'} over ${took}${data.end === undefined ? ' so far' : ''}`,
    retried ? `${retried} retried` : '',
    waited ? `${waited} waited for a decision` : '',
    delegated ? `${delegated} delegated` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A tick interval near `rough`: 1, 2 or 5 times a power of ten, in ms. */
function tickMs(rough) {
  const base = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  return [1, 2, 5, 10].map((m) => m * base).find((t) => t >= rough) ?? base * 10;
}

/** `text` cut with `…` to fit `max` pixels. */
function fit(g, text, max) {
  if (g.measureText(text).width <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (g.measureText(`${text.slice(0, mid)}…`).width <= max) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}
