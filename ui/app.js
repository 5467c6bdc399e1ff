import { notify } from './dom.js';
import { stepView } from './step.js';
import { inboxView, runView, runsView } from './views.js';

// 1 s: a running step's output shows within the 2 s the page promises.
const LIVE_MS = 1000;
const main = document.getElementById('main');
let timer;
// A step's page follows its transcript's stream: stopped when the page is left.
let leave;
// Which view is shown: a view may rewrite its own address (a batch's outcome page) without being left.
let shownViews = 0;

async function show() {
  const view = ++shownViews;
  clearTimeout(timer);
  leave?.();
  leave = undefined;
  const shown = location.hash;
  const [path, query = ''] = shown.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  params.delete('token');
  try {
    // The runs list and a run's page refresh themselves; the inbox waits for a decision or its Refresh button,
    // so that a comment or an edited output being typed is never redrawn away.
    let refresh;
    // Each id is encoded whole (a task id may hold `/`), so the address splits on its own slashes.
    const step = path.match(/^\/run\/([^/]+)\/step\/([^/]+)$/);
    if (step) {
      const stop = await stepView(main, decodeURIComponent(step[1]), decodeURIComponent(step[2]));
      // Left while it opened: the view shown now is another's, and this stream must not outlive it.
      if (view === shownViews) leave = stop;
      else stop();
    } else if (path.startsWith('/run/'))
      refresh = await runView(main, decodeURIComponent(path.slice(5)), params);
    else if (path === '/inbox') await inboxView(main);
    else refresh = await runsView(main, params);
    if (refresh) live(refresh, view);
  } catch (error) {
    notify(error.message, true);
  }
}

function live(refresh, view) {
  const tick = async () => {
    if (view !== shownViews) return;
    try {
      await refresh();
    } catch (error) {
      notify(`Refresh failed: ${error.message}`, true);
    }
    timer = setTimeout(tick, LIVE_MS);
  };
  timer = setTimeout(tick, LIVE_MS);
}

window.addEventListener('hashchange', show);
show();
