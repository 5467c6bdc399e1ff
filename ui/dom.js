// Every piece of text, model output above all, goes into the page as a text node:
// nothing here ever parses a string as HTML.

/** An element with attributes (`on…` ones as listeners) and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(
    ...children
      .flat()
      .filter((c) => c !== undefined && c !== null && c !== false)
      .map(text),
  );
  return el;
}

/** A table's head of `columns`, those in `numeric` right-aligned as their cells are. */
export const tableHead = (columns, numeric = []) =>
  h(
    'thead',
    {},
    h(
      'tr',
      {},
      columns.map((c) => h('th', { scope: 'col', class: numeric.includes(c) ? 'num' : undefined }, c)),
    ),
  );

const text = (child) => (child instanceof Node ? child : document.createTextNode(String(child)));

let session;
const token = () =>
  new URLSearchParams(location.hash.split('?')[1] ?? '').get('token') ?? sessionStorage.getItem('tao-token');

/** The auth token's header, when the page was opened with one: kept for the tab. */
export function authHeaders() {
  const bearer = token();
  if (!bearer) return {};
  sessionStorage.setItem('tao-token', bearer);
  return { authorization: `Bearer ${bearer}` };
}

/** The server's API; a refusal throws its one-line reason. */
export async function api(path, body) {
  const headers = authHeaders();
  if (body !== undefined) {
    session ??= await api('/api/session');
    headers['content-type'] = 'application/json';
    headers['x-tao-csrf'] = session.csrf;
  }
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

export async function sessionInfo() {
  session ??= await api('/api/session');
  return session;
}

/** Shows an action's result, or why it was refused, where screen readers announce it. */
export function notify(message, refused = false) {
  const notice = document.getElementById('notice');
  notice.textContent = message;
  notice.className = refused ? 'refused' : 'done';
  notice.hidden = false;
}

/** Runs an action from a control; its refusal is shown, not thrown. */
export async function act(label, run) {
  try {
    await run();
    notify(`${label}: done`);
    return true;
  } catch (error) {
    notify(`${label} refused: ${error.message}`, true);
    return false;
  }
}

export const labelled = (label, control) => h('label', {}, `${label} `, control);

export function formatMs(ms) {
  if (ms === undefined || ms === null) return '';
  return ms < 1000
    ? `${ms} ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.round(ms / 60_000)} min`;
}
