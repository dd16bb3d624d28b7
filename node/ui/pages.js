// The read-only pages: services, one service, nodes, sessions and locks, Raft.

import { api, badge, emptyRow, frame, h, loaded, plural, poll, syncRows, table, watch, worst } from './lib.js';

const enc = encodeURIComponent;

/** Calls `draw` once every named part has arrived at least once, and after each later change. */
function gather(parts, draw) {
  const have = {};
  return (name) => (value) => {
    have[name] = value;
    return parts.every((p) => p in have) ? draw(have) : undefined;
  };
}

/** The health of an instance: the worst of its own checks and its node's checks. */
function instanceHealth(checks, node, serviceId) {
  return worst(checks.filter((c) => c.Node === node && (c.ServiceID === serviceId || c.ServiceID === ''))
    .map((c) => c.Status));
}

function tagList(tags) {
  if (!tags?.length) return null;
  return h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, t)));
}

// ---- Services -------------------------------------------------------------------------

export function servicesPage(main, { dc }, signal) {
  const [wrap, tbody] = table('Services', ['Service:32%', 'Health:28%', 'Instances:11%#', 'Tags:29%']);
  const root = frame(main, 'services', 'Services', wrap);
  let seq = 0;
  const update = gather(['instances', 'checks'], ({ instances, checks }) => {
    const rows = Object.keys(instances).sort().map((name) => {
      const health = instances[name].list.map((i) => instanceHealth(checks, i.Node, i.ServiceID));
      return { name, tags: instances[name].tags, health };
    });
    if (!rows.length) emptyRow(tbody, 4, 'No services are registered.');
    else syncRows(tbody, rows, (r) => r.name, () => h('tr', { 'data-testid': 'service-row' }), fillService(dc));
    loaded(root);
  });
  // The catalog's service list blocks; on each change the instances of every service are read
  // once (the list holds only names and tags). Checks come from their own blocking query.
  watch('/v1/catalog/services', async (services) => {
    const mine = ++seq;
    const names = Object.keys(services);
    const lists = await Promise.all(names.map((n) => api(`/v1/catalog/service/${enc(n)}`, { signal })));
    if (mine !== seq) return; // a newer list is on its way
    const instances = {};
    names.forEach((n, i) => { instances[n] = { tags: services[n], list: lists[i] }; });
    update('instances')(instances);
  }, { signal });
  watch('/v1/health/state/any', update('checks'), { signal });
}

function fillService(dc) {
  return (row, { name, tags, health }) => {
    const status = worst(health);
    const count = (s) => health.filter((x) => x === s).length;
    row.dataset.service = name;
    row.dataset.health = status;
    row.className = `health-${status}`;
    const summary = ['passing', 'warning', 'critical'].filter(count).map((s) => badge(s, `${count(s)} ${s}`));
    row.replaceChildren(
      h('th', { scope: 'row' }, h('a', { href: `/ui/${enc(dc)}/services/${enc(name)}` }, name)),
      h('td', {}, summary.length ? summary : badge('passing', 'no checks')),
      h('td', { class: 'num' }, String(health.length)),
      h('td', {}, tagList(tags)));
  };
}

// ---- One service ----------------------------------------------------------------------

export function servicePage(main, { dc, name }, signal) {
  const list = h('div', { class: 'cards' }, h('p', { class: 'placeholder' }, 'Loading…'));
  const root = frame(main, 'service', name,
    h('p', { class: 'crumbs' }, h('a', { href: `/ui/${enc(dc)}/services` }, 'Services'), ' / ', name), list);
  watch(`/v1/health/service/${enc(name)}`, (entries) => {
    const rows = entries.map((e) => ({
      node: e.Node.Node, id: e.Service.ID, address: e.Service.Address || e.Node.Address,
      port: e.Service.Port, tags: e.Service.Tags, checks: e.Checks,
    }));
    if (!rows.length) list.replaceChildren(h('p', { class: 'placeholder' }, `No instances of ${name} are registered.`));
    else syncRows(list, rows, (r) => `${r.node}/${r.id}`, () => h('article', { 'data-testid': 'instance-row', class: 'card' }), fillInstance);
    loaded(root);
  }, { signal });
}

function fillInstance(card, r) {
  const health = worst(r.checks.map((c) => c.Status));
  Object.assign(card.dataset, { node: r.node, serviceId: r.id, health });
  card.className = `card health-${health}`;
  card.replaceChildren(
    h('header', {}, h('h2', {}, r.id), badge(health)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Node'), h('dd', {}, r.node),
      h('dt', {}, 'Address'), h('dd', {}, r.port ? `${r.address}:${r.port}` : r.address),
      h('dt', {}, 'Tags'), h('dd', {}, tagList(r.tags) ?? '—')),
    h('ul', { class: 'checks', 'aria-label': `Checks of ${r.id}` }, r.checks.map((c) =>
      h('li', { 'data-testid': 'check-row', 'data-check-id': c.CheckID, 'data-status': c.Status, class: `check health-${c.Status}` },
        h('div', { class: 'check-head' }, badge(c.Status), h('strong', {}, c.Name), h('code', {}, c.CheckID),
          c.ServiceID ? null : h('span', { class: 'muted' }, '(node check)')),
        h('pre', { 'data-testid': 'check-output', class: 'output' }, c.Output || c.Notes || '(no output)')))));
}

// ---- Nodes ----------------------------------------------------------------------------

const MEMBER_STATUS = ['none', 'alive', 'leaving', 'left', 'failed'];

export function nodesPage(main, { dc }, signal) {
  const [wrap, tbody] = table('Nodes', ['Node:22%', 'Status:13%', 'Health:13%', 'Role:18%', 'Address:20%', 'Datacenter:14%']);
  const root = frame(main, 'nodes', 'Nodes', wrap);
  // One blocking query per page where one suffices (a browser has ~6 connections to a host):
  // every agent's node has a serfHealth check, so the checks move whenever a node joins,
  // fails (critical) or leaves (deregistered). Each move re-reads the node list, and the
  // gossip status from /v1/agent/members, which cannot block.
  watch('/v1/health/state/any', async (checks) => {
    const [nodes, members, leader] = await Promise.all(
      ['/v1/catalog/nodes', '/v1/agent/members', '/v1/status/leader'].map((path) => api(path, { signal })));
    const rows = new Map();
    for (const m of members) {
      const server = m.Tags?.role === 'consul';
      rows.set(m.Name, {
        name: m.Name, status: MEMBER_STATUS[m.Status] || 'none', address: m.Addr, dc: m.Tags?.dc || dc,
        role: server ? (leader === `${m.Addr}:${m.Tags.port}` ? 'leader' : 'server') : 'client',
      });
    }
    for (const n of nodes) {
      if (!rows.has(n.Node)) rows.set(n.Node, { name: n.Node, status: 'none', role: '—', address: n.Address, dc: n.Datacenter });
    }
    for (const row of rows.values()) {
      // A node with no checks (one that left is deregistered) has no health to show.
      const own = checks.filter((c) => c.Node === row.name && c.ServiceID === '');
      row.health = own.length ? worst(own.map((c) => c.Status)) : 'none';
    }
    const sorted = [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
    syncRows(tbody, sorted, (r) => r.name, () => h('tr', { 'data-testid': 'node-row' }), fillNode);
    loaded(root);
  }, { signal });
}

function fillNode(row, r) {
  row.dataset.node = r.name;
  row.dataset.status = r.status;
  row.className = `status-${r.status} health-${r.health}`;
  const statusClass = { alive: 'passing', leaving: 'warning', left: 'left', failed: 'critical' }[r.status] || 'warning';
  row.replaceChildren(
    h('th', { scope: 'row' }, r.name),
    h('td', {}, badge(statusClass, r.status)),
    h('td', {}, r.health === 'none' ? '—' : badge(r.health)),
    h('td', {}, r.role === 'leader' ? h('strong', {}, 'server (leader)') : r.role),
    h('td', {}, h('code', {}, r.address)),
    h('td', {}, r.dc));
}

// ---- Sessions and locks ---------------------------------------------------------------

export function sessionsPage(main, { dc }, signal) {
  const [swrap, sbody] = table('Sessions', ['Session:35%', 'Name:19%', 'Node:14%', 'Behavior:12%', 'TTL:10%', 'Locks:10%#']);
  const [lwrap, lbody] = table('Locks', ['Key:45%', 'Held by session:40%', 'Node:15%']);
  const root = frame(main, 'sessions', 'Sessions', swrap, h('h2', {}, 'Locks held'), lwrap);
  const update = gather(['sessions', 'entries'], ({ sessions, entries }) => {
    const byId = new Map(sessions.map((s) => [s.ID, s]));
    const locks = entries.filter((e) => e.Session).map((e) => ({ key: e.Key, session: e.Session, node: byId.get(e.Session)?.Node || '' }));
    const count = (id) => locks.filter((l) => l.session === id).length;
    const rows = sessions.map((s) => ({ id: s.ID, name: s.Name, node: s.Node, behavior: s.Behavior, ttl: s.TTL, locks: count(s.ID) }));
    if (!rows.length) emptyRow(sbody, 6, 'No sessions.');
    else syncRows(sbody, rows, (r) => r.id, () => h('tr', { 'data-testid': 'session-row' }), fillSession);
    if (!locks.length) emptyRow(lbody, 3, 'No key is locked.');
    else syncRows(lbody, locks, (l) => l.key, () => h('tr', { 'data-testid': 'lock-row' }), fillLock(dc));
    loaded(root);
  });
  watch('/v1/session/list', update('sessions'), { signal });
  // Locks are KV entries whose Session is set; the whole store is read, which suits the
  // store sizes a person browses (an empty store answers 404).
  watch('/v1/kv/?recurse', update('entries'), { signal, missing: [] });
}

function fillSession(row, s) {
  Object.assign(row.dataset, { sessionId: s.id, node: s.node });
  row.replaceChildren(
    h('th', { scope: 'row' }, h('code', { title: s.id }, s.id)),
    h('td', {}, s.name || '—'), h('td', {}, s.node), h('td', {}, s.behavior), h('td', {}, s.ttl || '—'),
    h('td', { class: 'num' }, String(s.locks)));
}

function fillLock(dc) {
  return (row, l) => {
    Object.assign(row.dataset, { key: l.key, sessionId: l.session });
    row.replaceChildren(
      h('th', { scope: 'row' }, h('a', { href: `/ui/${enc(dc)}/kv/${l.key.split('/').map(enc).join('/')}/edit` }, l.key)),
      h('td', {}, h('code', { title: l.session }, l.session)), h('td', {}, l.node || '—'));
  };
}

// ---- Raft -----------------------------------------------------------------------------

// Autopilot health and the agent's Raft stats have no index to block on, so this page alone
// re-reads them on a timer while it is open (and stops when it is left).
const RAFT_PERIOD_MS = 3000;

export function raftPage(main, { dc }, signal) {
  const term = h('dd', { 'data-testid': 'raft-term' }, '…');
  const commit = h('dd', { 'data-testid': 'raft-commit-index' }, '…');
  const leaderName = h('dd', {}, '…');
  const applied = h('dd', {}, '…');
  const tolerance = h('dd', {}, '…');
  const note = h('p', { class: 'muted' }, 'Loading…');
  const [wrap, tbody] = table('Raft servers', ['Server:22%', 'Role:12%', 'Gossip:12%', 'Healthy:14%', 'Last contact:14%', 'Last index:12%#', 'Trailing:14%#']);
  const root = frame(main, 'raft', 'Raft',
    h('dl', { class: 'stats' }, h('div', {}, h('dt', {}, 'Leader'), leaderName), h('div', {}, h('dt', {}, 'Term'), term),
      h('div', {}, h('dt', {}, 'Commit index'), commit), h('div', {}, h('dt', {}, 'Applied index'), applied),
      h('div', {}, h('dt', {}, 'Failure tolerance'), tolerance)),
    wrap, note);
  poll(async () => {
    const [health, config, self] = await Promise.all([
      api('/v1/operator/autopilot/health', { signal }),
      api('/v1/operator/raft/configuration', { signal }),
      api('/v1/agent/self', { signal }),
    ]);
    const servers = health.Servers || [];
    const leader = servers.find((s) => s.Leader);
    const raft = self.Stats?.raft || {};
    const source = self.Stats?.raft ? 'this agent\'s Raft state' : 'the leader\'s autopilot report (this agent is a client)';
    note.textContent = `Term and commit index from ${source}; servers from autopilot health, re-read every ${RAFT_PERIOD_MS / 1000} s (it has no index to block on).`;
    const num = (v) => (v === undefined || v === '' ? undefined : Number(v));
    term.textContent = String(num(raft.term) ?? leader?.LastTerm ?? '—');
    commit.textContent = String(num(raft.commit_index) ?? leader?.LastIndex ?? '—');
    applied.textContent = String(num(raft.applied_index) ?? '—');
    leaderName.textContent = leader ? leader.Name : 'none';
    tolerance.textContent = String(health.FailureTolerance ?? '—');
    const voter = new Map((config.Servers || []).map((s) => [s.ID, s.Voter]));
    const rows = servers.map((s) => ({
      name: s.Name, id: s.ID, address: s.Address, leader: !!s.Leader, voter: voter.get(s.ID) ?? s.Voter,
      serf: s.SerfStatus, healthy: s.Healthy, contact: s.LastContact, index: s.LastIndex,
      trailing: leader ? Math.max(0, leader.LastIndex - s.LastIndex) : 0,
    }));
    if (!rows.length) emptyRow(tbody, 7, 'No Raft servers (is this agent connected to a server?).');
    else syncRows(tbody, rows, (r) => r.id, () => h('tr', { 'data-testid': 'raft-server-row' }), fillServer);
    loaded(root);
  }, RAFT_PERIOD_MS, { signal });
  void dc;
}

function fillServer(row, r) {
  Object.assign(row.dataset, { node: r.name, leader: String(r.leader), trailing: String(r.trailing) });
  row.className = r.healthy ? '' : 'health-critical';
  row.replaceChildren(
    h('th', { scope: 'row' }, r.name, h('br'), h('code', { class: 'muted' }, r.address)),
    h('td', {}, r.leader ? h('strong', {}, 'leader') : r.voter ? 'follower' : 'non-voter'),
    h('td', {}, badge(r.serf === 'alive' ? 'passing' : 'critical', r.serf)),
    h('td', {}, badge(r.healthy ? 'passing' : 'critical', r.healthy ? 'healthy' : 'unhealthy')),
    h('td', {}, r.leader ? '—' : r.contact),
    h('td', { class: 'num' }, String(r.index)),
    h('td', { class: 'num' }, r.leader ? '—' : plural(r.trailing, 'entry', 'entries')));
}
