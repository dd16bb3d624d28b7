// The KV browser and editor. Folders are key prefixes ending in `/` (`?keys&separator=/`);
// every write is a check-and-set (`?cas=ModifyIndex`, 0 for a new key), so two editors never
// overwrite each other silently: a refused write is shown, and the text typed is kept.

import { api, flash, frame, h, HttpError, loaded, syncRows, watch } from './lib.js';
import { navigate } from './app.js';

const enc = encodeURIComponent;
const keyPath = (key) => key.split('/').map(enc).join('/');

/** /ui/{dc}/kv/ + rest: a folder (ends in ''), a key (ends in 'edit'), or a new key ('create'). */
export function kvPage(main, { dc, rest }, signal) {
  const base = `/ui/${enc(dc)}/kv/`;
  const last = rest.length ? rest[rest.length - 1] : '';
  const path = rest.slice(0, -1).join('/');
  if (last === '') return folderView(main, base, path ? `${path}/` : '', signal);
  if (last === 'create') return editView(main, base, path ? `${path}/` : '', null, signal);
  if (last === 'edit') return editView(main, base, parentOf(path), path, signal);
  return editView(main, base, parentOf(rest.join('/')), rest.join('/'), signal);
}

/** The folder holding `key`: 'a/b/' for 'a/b/c' and for the folder key 'a/b/c/'. */
function parentOf(key) {
  const cut = key.replace(/\/$/, '').lastIndexOf('/');
  return cut < 0 ? '' : key.slice(0, cut + 1);
}

/** Root / a / b / links for `folder`. */
function crumbs(base, folder) {
  const parts = folder.split('/').filter(Boolean);
  const links = [h('a', { href: base }, 'Key/Value')];
  parts.forEach((p, i) => links.push(' / ', h('a', { href: `${base}${keyPath(parts.slice(0, i + 1).join('/'))}/` }, p)));
  return h('p', { class: 'crumbs' }, links);
}

function folderView(main, base, folder, signal) {
  const list = h('ul', { class: 'kv-list', 'aria-label': 'Keys and folders' }, h('li', { class: 'placeholder' }, 'Loading…'));
  const create = h('a', { class: 'button primary', 'data-testid': 'kv-create', href: `${base}${keyPath(folder)}create` }, 'Create');
  const root = frame(main, 'kv', folder || 'Key/Value', crumbs(base, folder), h('div', { class: 'actions' }, create), list);
  watch(`/v1/kv/${keyPath(folder)}?keys&separator=/`, (keys) => {
    const entries = keys.filter((k) => k !== folder);
    if (!entries.length) list.replaceChildren(h('li', { class: 'placeholder' }, folder ? 'This folder is empty.' : 'There are no keys yet.'));
    else syncRows(list, entries, (k) => k, () => h('li'), (li, key) => {
      const isFolder = key.endsWith('/');
      const name = key.slice(folder.length);
      li.replaceChildren(h('a', {
        'data-testid': isFolder ? 'kv-folder' : 'kv-key', 'data-key': key, class: isFolder ? 'folder' : 'key',
        href: isFolder ? `${base}${keyPath(key)}` : `${base}${keyPath(key)}/edit`,
      }, h('span', { class: 'icon', 'aria-hidden': 'true' }, isFolder ? '▸' : '•'), name));
    });
    loaded(root);
  }, { signal, missing: [] });
}

/** A KV value as text, or null when it is not UTF-8 (then it is shown, not edited). */
function decode(value) {
  if (value === null || value === undefined) return '';
  const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  try { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { return null; }
}

/** The editor for `key`, or the form for a new key in `folder` when `key` is null. */
function editView(main, base, folder, key, signal) {
  const isNew = key === null;
  const state = { base: 0, loaded: '', flags: 0, latest: undefined, busy: false };
  const keyInput = isNew ? h('input', { id: 'kv-key', 'data-testid': 'kv-key-input', value: folder, required: true, autocomplete: 'off', spellcheck: 'false' }) : null;
  const value = h('textarea', { id: 'kv-value', 'data-testid': 'kv-value-input', rows: 10, spellcheck: 'false' });
  const modify = h('span', { 'data-testid': 'kv-modify-index' }, isNew ? '—' : '…');
  const holder = h('span', {}, '—');
  const notice = h('p', { class: 'notice', role: 'status' });
  const conflict = h('div', { class: 'conflict', 'data-testid': 'kv-conflict', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'kv-save' }, isNew ? 'Create' : 'Save');
  const confirmBox = h('div', { class: 'confirm', hidden: true });
  const del = isNew ? null : h('button', { type: 'button', class: 'danger', 'data-testid': 'kv-delete', onclick: () => askDelete() }, 'Delete');
  const form = h('form', { class: 'kv-form', novalidate: true },
    isNew ? [h('label', { for: 'kv-key' }, 'Key (a name ending in / makes a folder)'), keyInput] : null,
    h('label', { for: 'kv-value' }, 'Value'), value,
    isNew ? null : h('dl', { class: 'facts' }, h('dt', {}, 'ModifyIndex'), h('dd', {}, modify), h('dt', {}, 'Lock held by'), h('dd', {}, holder)),
    notice, conflict,
    h('div', { class: 'actions' }, save, del, h('a', { class: 'button', href: `${base}${keyPath(folder)}` }, 'Cancel')),
    confirmBox);
  const root = frame(main, 'kv', isNew ? 'New key' : key, crumbs(base, folder), form);
  notice.hidden = true;

  /** Shows the editor's base (the version a save would replace). */
  function show(entry) {
    const text = decode(entry.Value);
    state.base = entry.ModifyIndex;
    state.flags = entry.Flags || 0;
    state.loaded = text ?? '';
    value.value = text ?? `(binary value, ${atob(entry.Value || '').length} bytes: not editable here)`;
    value.readOnly = text === null;
    save.disabled = text === null;
    modify.textContent = String(entry.ModifyIndex);
    holder.replaceChildren(entry.Session ? h('code', {}, entry.Session) : '—');
  }

  /** Tells the user when the key moved on since the version they edit (a save would be refused). */
  function compare() {
    const latest = state.latest;
    const moved = !state.busy && latest !== undefined && (latest === null ? state.base !== 0 : latest.ModifyIndex !== state.base);
    notice.hidden = !moved;
    if (!moved) return;
    notice.replaceChildren(latest === null ? 'This key was deleted by someone else. ' : `This key was changed by someone else (ModifyIndex ${latest.ModifyIndex}); saving will be refused. `,
      latest === null ? '' : h('button', { type: 'button', onclick: () => reload() }, 'Load the new value'));
  }

  function reload() {
    if (state.latest) show(state.latest);
    conflict.hidden = true;
    compare();
  }

  async function refused(why) {
    const now = await api(`/v1/kv/${keyPath(key ?? keyInput.value)}`, { raw: true });
    const entry = now.ok ? (await now.json())[0] : null;
    const theirs = entry ? decode(entry.Value) : null;
    conflict.replaceChildren(h('strong', {}, 'Not saved. '), why(entry),
      entry && theirs !== null ? h('pre', { class: 'output' }, theirs) : '',
      !isNew && entry ? h('button', { type: 'button', onclick: () => { state.latest = entry; reload(); } }, 'Load their value (drops your text)') : '');
    conflict.hidden = false;
    flash('Not saved: the key changed', 'error');
  }

  async function write(method, target, cas, body) {
    state.busy = true;
    save.disabled = true;
    try {
      const flags = method === 'PUT' && state.flags ? `&flags=${state.flags}` : '';
      return await api(`/v1/kv/${keyPath(target)}?cas=${cas}${flags}`, { method, body });
    } catch (e) {
      flash(e instanceof HttpError ? `Failed: ${e.message}` : 'Failed: no answer from the agent', 'error');
      return undefined;
    } finally {
      state.busy = false;
      save.disabled = false;
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    conflict.hidden = true;
    const target = isNew ? keyInput.value.trim() : key;
    if (!target || target.startsWith('/')) {
      flash('A key needs a name that does not start with /', 'error');
      keyInput?.focus();
      return;
    }
    const ok = await write('PUT', target, isNew ? 0 : state.base, value.value);
    if (ok === true) {
      flash(`Saved ${target}`);
      if (isNew) navigate(target.endsWith('/') ? `${base}${keyPath(target)}` : `${base}${keyPath(target)}/edit`, { replace: true });
      else await afterSave();
    } else if (ok === false) {
      await refused((entry) => isNew
        ? `A key named ${target} already exists; it was not overwritten.`
        : entry ? `Someone else changed this key after you loaded it (you edited ModifyIndex ${state.base}; it is now ${entry.ModifyIndex}). Your text is still here.`
          : 'Someone else deleted this key after you loaded it. Your text is still here.');
    }
  });

  async function afterSave() {
    const entry = (await api(`/v1/kv/${keyPath(key)}`))[0];
    show(entry);
    compare();
  }

  function askDelete() {
    confirmBox.replaceChildren(h('p', {}, `Delete ${key}? This cannot be undone.`),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', 'data-testid': 'kv-delete-confirm', onclick: () => doDelete() }, 'Yes, delete'),
        h('button', { type: 'button', onclick: () => { confirmBox.hidden = true; del.focus(); } }, 'Keep it')));
    confirmBox.hidden = false;
    confirmBox.querySelector('button').focus();
  }

  async function doDelete() {
    const ok = await write('DELETE', key, state.base);
    confirmBox.hidden = true;
    if (ok === true) {
      flash(`Deleted ${key}`);
      navigate(`${base}${keyPath(folder)}`, { replace: true });
    } else if (ok === false) {
      await refused((entry) => entry ? `Someone else changed this key (now ModifyIndex ${entry.ModifyIndex}); it was not deleted.` : 'It was already deleted.');
    }
  }

  if (isNew) {
    loaded(root);
    return;
  }
  // The key is followed with a blocking query: the editor's text never changes under the
  // user's hands, but a change made elsewhere is announced at once.
  watch(`/v1/kv/${keyPath(key)}`, (entries) => {
    const entry = entries ? entries[0] : null;
    if (root.dataset.loaded !== 'true') {
      if (entry) show(entry);
      else {
        value.value = '';
        modify.textContent = '—';
        flash(`There is no key ${key}; saving creates it`);
      }
      loaded(root);
    }
    state.latest = entry;
    compare();
  }, { signal, missing: null });
}
