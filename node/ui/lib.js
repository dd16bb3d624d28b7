// Shared pieces: building elements, the public HTTP API, blocking-query watches with
// back-off, the connection banner, flash messages, and keyed row updates.

/** An element: h('a', {href: '/x', 'data-testid': 'y'}, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** An HTTP answer that was not 2xx (the body is the agent's reason, as text). */
export class HttpError extends Error {
  constructor(status, text) {
    super(text.trim() || `HTTP ${status}`);
    this.status = status;
  }
}

/** No answer at all (the agent is down or unreachable). */
export class NetworkError extends Error {}

/** `fetch`, with a failure to connect as a NetworkError (an abort stays an AbortError). */
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new NetworkError(e.message);
  }
}

/** One request to the API; JSON in and out. `raw` returns the Response itself. */
export async function api(path, { method = 'GET', body, signal, raw = false } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) init.body = body;
  const res = await send(path, init);
  if (raw) return res;
  if (!res.ok) throw new HttpError(res.status, await res.text());
  connection.ok();
  return res.json();
}

// Blocking queries: Consul's advice is to wait up to 5 minutes; shorter here so that a
// proxy's idle timeout does not cut the request, and a paused laptop recovers soon.
const WAIT = '60s';
const BACKOFF_MS_MIN = 1000;
const BACKOFF_MS_MAX = 30000;
// A read that answers without an index must not spin: wait this long between its reads.
const NO_INDEX_PAUSE_MS = 5000;

/** Sleeps `ms`, or until `signal` aborts (then rejects). */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

/**
 * Follows `path` with blocking queries until `signal` aborts: each answer's X-Consul-Index is
 * the next request's `?index=`, so the agent holds the request until something changed.
 * `onData(body, index)` runs on the first answer and on each change. `missing` is the body
 * given for a 404 (a KV key that does not exist yet can be watched too). Errors back off
 * exponentially (1 s to 30 s, with jitter) and raise the connection banner.
 */
export async function watch(path, onData, { signal, missing } = {}) {
  let index = 0;
  let backoffMs = 0;
  const sep = path.includes('?') ? '&' : '?';
  while (!signal.aborted) {
    const whileShown = hiddenAborts();
    try {
      await whenVisible(signal);
      const url = index ? `${path}${sep}index=${index}&wait=${WAIT}` : path;
      const res = await send(url, { signal: AbortSignal.any([signal, whileShown.signal]) });
      if (!res.ok && !(res.status === 404 && missing !== undefined)) {
        throw new HttpError(res.status, await res.text());
      }
      const body = res.ok ? await res.json() : missing;
      const next = Number(res.headers.get('X-Consul-Index')) || 0;
      connection.ok();
      backoffMs = 0;
      // An unchanged index is a wait that timed out: nothing to draw.
      if (next !== index || next === 0) await onData(body, next);
      // An index going backwards (a restored snapshot, a new leader's store) starts over.
      index = next < index ? 0 : next;
      if (next === 0) await sleep(NO_INDEX_PAUSE_MS, signal);
    } catch (e) {
      if (signal.aborted) return;
      if (whileShown.signal.aborted) continue; // hidden: resume with the same index when shown
      // The agent may have restarted with a smaller index: a blocking read with the old one
      // would hang until its wait ends, so the next read after an error does not block.
      index = 0;
      backoffMs = Math.min(Math.max(backoffMs * 2, BACKOFF_MS_MIN), BACKOFF_MS_MAX);
      connection.lost(e, backoffMs);
      await sleep(backoffMs * (0.75 + Math.random() / 2), signal).catch(() => {});
    } finally {
      whileShown.stop();
    }
  }
}

// A hidden tab holds no query open: browsers allow about 6 connections to one host, and a
// few forgotten tabs each holding blocking queries would stall the one in front.

/** Resolves at once, or when the tab is shown again. */
function whenVisible(signal) {
  if (!document.hidden) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const shown = () => {
      if (document.hidden) return;
      document.removeEventListener('visibilitychange', shown);
      resolve();
    };
    document.addEventListener('visibilitychange', shown);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** A controller aborted when the tab is hidden; `stop()` when its request is over. */
function hiddenAborts() {
  const controller = new AbortController();
  const hidden = () => { if (document.hidden) controller.abort(); };
  document.addEventListener('visibilitychange', hidden);
  controller.stop = () => document.removeEventListener('visibilitychange', hidden);
  return controller;
}

/**
 * Runs `read()` now and every `periodMs` until `signal` aborts, for reads that have no index
 * to block on (autopilot health); errors back off as in `watch`.
 */
export async function poll(read, periodMs, { signal }) {
  let backoffMs = 0;
  while (!signal.aborted) {
    try {
      await whenVisible(signal);
      await read();
      backoffMs = 0;
      await sleep(periodMs, signal);
    } catch (e) {
      if (signal.aborted) return;
      backoffMs = Math.min(Math.max(backoffMs * 2, BACKOFF_MS_MIN), BACKOFF_MS_MAX);
      connection.lost(e, backoffMs);
      await sleep(backoffMs, signal).catch(() => {});
    }
  }
}

/** The banner shown while the agent does not answer (fixed position: nothing moves). */
export const connection = {
  down: false,
  lost(error, retryMs) {
    const banner = document.getElementById('banner');
    if (!(error instanceof HttpError || error instanceof NetworkError)) {
      // A bug of the page, not the agent's: say so rather than blame the connection.
      console.error(error);
      flash(`The page failed: ${error.message}`, 'error');
      return;
    }
    const why = error instanceof HttpError ? `the agent answered ${error.status}: ${error.message}` : 'no answer from the agent';
    banner.textContent = `Connection problem (${why}). Retrying in ${Math.round(retryMs / 1000)} s…`;
    banner.hidden = false;
    document.body.classList.add('offline');
    this.down = true;
  },
  ok() {
    if (!this.down) return;
    this.down = false;
    document.getElementById('banner').hidden = true;
    document.body.classList.remove('offline');
  },
};

let flashTimer;
/** A status message (kept until the next one, or 8 s). kind: ok | error. */
export function flash(text, kind = 'ok') {
  const el = document.getElementById('flash');
  el.textContent = text;
  el.dataset.kind = kind;
  el.onclick = () => { el.textContent = ''; };
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.textContent = ''; }, 8000);
}

/**
 * Makes `parent`'s children the rows for `items`, keyed by `key(item)`: a row whose item did
 * not change is left alone (focus and selection survive a refresh), a changed one is redrawn
 * in place by `fill(row, item)`, new ones are made by `make(item)`, gone ones removed.
 */
export function syncRows(parent, items, key, make, fill) {
  const old = new Map();
  for (const row of parent.children) if (row.dataset.row !== undefined) old.set(row.dataset.row, row);
  let at = parent.firstElementChild;
  for (const item of items) {
    const k = key(item);
    const sig = JSON.stringify(item);
    let row = old.get(k);
    if (row) {
      old.delete(k);
      if (row._sig !== sig) fill(row, item);
    } else {
      row = make(item);
      row.dataset.row = k;
      fill(row, item);
    }
    row._sig = sig;
    if (row !== at) parent.insertBefore(row, at);
    else at = at.nextElementSibling;
  }
  for (const row of old.values()) row.remove();
  for (const extra of [...parent.children]) if (extra.dataset.row === undefined) extra.remove();
  if (parent.tagName === 'TBODY') for (const row of parent.rows) label(row);
}

/** Names each cell of a table row after its column (a phone shows rows as labelled blocks). */
function label(row) {
  const head = row.closest('table')?.tHead?.rows[0];
  if (!head) return;
  [...row.cells].forEach((cell, i) => { if (i > 0 && head.cells[i]) cell.dataset.label = head.cells[i].textContent; });
}

const RANK = { passing: 0, warning: 1, critical: 2 };
/** The worst of some check statuses (passing when there are none). */
export function worst(statuses) {
  let w = 'passing';
  for (const s of statuses) if ((RANK[s] ?? 2) > RANK[w]) w = RANK[s] === undefined ? 'critical' : s;
  return w;
}

/** A health badge: colour plus the word (never colour alone). */
export function badge(status, text = status) {
  return h('span', { class: `badge ${status}` }, text);
}

/** A page's frame: heading, a line of context, and the element that rows go into. */
export function frame(main, name, title, ...rest) {
  const root = h('section', { 'data-testid': `page-${name}`, class: `page page-${name}`, 'aria-busy': 'true' },
    h('h1', {}, title), ...rest);
  main.replaceChildren(root);
  return root;
}

/** Marks a page loaded (once every part of its first load is done). */
export function loaded(root) {
  root.dataset.loaded = 'true';
  root.setAttribute('aria-busy', 'false');
}

/**
 * A table with a header row; returns [wrapper, tbody]. Each heading is 'Name:width%' (a
 * trailing '#' marks a number column): fixed column widths, so a refresh that changes a
 * cell's text never moves the columns.
 */
export function table(label, headings) {
  const cols = headings.map((spec) => {
    const [name, width = ''] = spec.split(':');
    return { name, width: width.replace('#', ''), num: width.endsWith('#') };
  });
  const body = h('tbody', {}, h('tr', { class: 'placeholder' }, h('td', { colspan: cols.length }, 'Loading…')));
  const t = h('table', { 'aria-label': label },
    // Widths through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    h('colgroup', {}, cols.map((c) => { const col = h('col'); col.style.width = c.width; return col; })),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.name)))), body);
  return [h('div', { class: 'table-wrap' }, t), body];
}

/** An empty-list row for `tbody`. */
export function emptyRow(tbody, colspan, text) {
  tbody.replaceChildren(h('tr', { class: 'placeholder' }, h('td', { colspan }, text)));
}

/** "1 entry", "2 entries". */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
