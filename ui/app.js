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
    if (path.startsWith('/run/')) {
      const refresh = await runView(main, decodeURIComponent(path.slice(5)));
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
    } else if (path === '/inbox') await inboxView(main);
    else await runsView(main, params);
  } catch (error) {
    notify(error.message, true);
  }
}

window.addEventListener('hashchange', show);
show();
