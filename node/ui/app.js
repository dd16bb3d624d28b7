// The shell: finds the datacenter, routes /ui/{dc}/... paths to pages (History API; every
// link is a real link), and aborts the queries of the page being left.

import { api, connection, h, sleep } from './lib.js';
import { servicesPage, servicePage, nodesPage, sessionsPage, raftPage } from './pages.js';
import { kvPage } from './kv.js';

const main = document.getElementById('main');
let agentDc = null;
let current = null; // the AbortController of the page on screen

/** The local agent's datacenter (Config.Datacenter), retried until the agent answers. */
async function datacenter() {
  for (let backoffMs = 1000; ; backoffMs = Math.min(backoffMs * 2, 30000)) {
    try {
      return (await api('/v1/agent/self')).Config.Datacenter;
    } catch (e) {
      connection.lost(e, backoffMs);
      await sleep(backoffMs);
    }
  }
}

/** `/ui/dc1/kv/a%20b/c` → ['dc1', 'kv', 'a b', 'c'] (a trailing slash leaves a last ''). */
function segments(pathname) {
  return pathname.replace(/^\/ui\/?/, '').split('/').map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
}

/** The page for a path, as [section, render function, params]. */
function resolve(pathname) {
  const [dc, section = '', ...rest] = segments(pathname);
  const params = { dc, rest };
  switch (section) {
    case '':
    case 'services':
      if (rest.length && rest[0] !== '') return ['services', servicePage, { dc, name: rest[0] }];
      return ['services', servicesPage, params];
    case 'nodes': return ['nodes', nodesPage, params];
    case 'kv': return ['kv', kvPage, params];
    case 'sessions': return ['sessions', sessionsPage, params];
    case 'raft': return ['raft', raftPage, params];
    default: return [null, notFound, params];
  }
}

function notFound(root) {
  root.replaceChildren(h('section', { class: 'page', 'data-testid': 'page-notfound', 'data-loaded': 'true' },
    h('h1', {}, 'Page not found'),
    h('p', {}, h('a', { href: `/ui/${encodeURIComponent(agentDc)}/services` }, 'Go to the services'))));
}

function wrongDc(root, dc) {
  root.replaceChildren(h('section', { class: 'page', 'data-testid': 'page-notfound', 'data-loaded': 'true' },
    h('h1', {}, 'Unknown datacenter'),
    h('p', {}, `This agent serves datacenter ${agentDc}, not ${dc}. `,
      h('a', { href: `/ui/${encodeURIComponent(agentDc)}/services` }, `Go to ${agentDc}`))));
}

/** Draws the page for the current location, after ending the previous page's queries. */
function route({ focus = false } = {}) {
  current?.abort();
  current = new AbortController();
  const { pathname } = window.location;
  const [dc] = segments(pathname);
  if (!dc) {
    history.replaceState(null, '', `/ui/${encodeURIComponent(agentDc)}/services`);
    return route({ focus });
  }
  const [section, render, params] = resolve(pathname);
  for (const link of document.querySelectorAll('nav a[data-section]')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (dc !== agentDc) wrongDc(main, dc);
  else render(main, params, current.signal);
  const title = main.querySelector('h1')?.textContent;
  document.title = title ? `${title} · Concord` : 'Concord';
  if (focus) main.focus({ preventScroll: true });
}

/** Follows same-app links without reloading the page (modified clicks open tabs as usual). */
function onClick(event) {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || !url.pathname.startsWith('/ui/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

/** Goes to `path` (an app path under /ui/) as a new history entry. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  route({ focus: true });
}

async function start() {
  agentDc = await datacenter();
  const dcPath = `/ui/${encodeURIComponent(agentDc)}`;
  document.getElementById('dc').textContent = agentDc;
  document.getElementById('brand').href = `${dcPath}/services`;
  for (const link of document.querySelectorAll('nav a[data-section]')) {
    link.href = `${dcPath}/${link.dataset.section}${link.dataset.section === 'kv' ? '/' : ''}`;
  }
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => route());
  route();
}

start();
