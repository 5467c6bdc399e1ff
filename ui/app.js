import { notify } from './dom.js';
import { inboxView, runView, runsView } from './views.js';

// 1 s: a running step's output shows within the 2 s the page promises.
const LIVE_MS = 1000;
const main = document.getElementById('main');
let timer;

async function show() {
  clearTimeout(timer);
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  params.delete('token');
  try {
    // The runs list and a run's page refresh themselves; the inbox waits for a decision or its Refresh button,
    // so that a comment or an edited output being typed is never redrawn away.
    let refresh;
    if (path.startsWith('/run/')) refresh = await runView(main, decodeURIComponent(path.slice(5)));
    else if (path === '/inbox') await inboxView(main);
    else refresh = await runsView(main, params);
    if (refresh) live(refresh);
  } catch (error) {
    notify(error.message, true);
  }
}

function live(refresh) {
  const shown = location.hash;
  const tick = async () => {
    if (location.hash !== shown) return;
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
