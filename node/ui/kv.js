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
  const root = frame(main, 'kv', folder || 'Key/Value', folder ? crumbs(base, folder) : null, h('div', { class: 'actions' }, create), list);
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
  const editor = new KeyEditor(base, folder, key);
  editor.root = frame(main, 'kv', key ?? 'New key', crumbs(base, folder), editor.form);
  if (key === null) loaded(editor.root);
  // The key is followed with a blocking query: the editor's text never changes under the
  // user's hands, but a change made elsewhere is announced at once.
  else watch(`/v1/kv/${keyPath(key)}`, (entries) => editor.seen(entries ? entries[0] : null), { signal, missing: null });
}

/**
 * One key's form. `base` is the ModifyIndex of the version being edited (0: none), the `cas`
 * of a save or delete; `latest` is the newest version the watch has seen (null: deleted).
 */
class KeyEditor {
  constructor(pageBase, folder, key) {
    Object.assign(this, { pageBase, folder, key, isNew: key === null, base: 0, flags: 0, latest: undefined, busy: false });
    this.keyInput = this.isNew ? h('input', { id: 'kv-key', 'data-testid': 'kv-key-input', value: folder, required: true, autocomplete: 'off', spellcheck: 'false' }) : null;
    this.value = h('textarea', { id: 'kv-value', 'data-testid': 'kv-value-input', rows: 10, spellcheck: 'false' });
    this.modify = h('span', { 'data-testid': 'kv-modify-index' }, '—');
    this.holder = h('span', {}, '—');
    this.notice = h('p', { class: 'notice', role: 'status', hidden: true });
    this.conflict = h('div', { class: 'conflict', 'data-testid': 'kv-conflict', role: 'alert', hidden: true });
    this.save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'kv-save' }, this.isNew ? 'Create' : 'Save');
    this.confirmBox = h('div', { class: 'confirm', hidden: true });
    this.del = this.isNew ? null : h('button', { type: 'button', class: 'danger', 'data-testid': 'kv-delete', onclick: () => this.askDelete() }, 'Delete');
    this.form = h('form', { class: 'kv-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.isNew ? [h('label', { for: 'kv-key' }, 'Key (a name ending in / makes a folder)'), this.keyInput] : null,
      h('label', { for: 'kv-value' }, 'Value'), this.value,
      this.isNew ? null : h('dl', { class: 'facts' }, h('dt', {}, 'ModifyIndex'), h('dd', {}, this.modify),
        h('dt', {}, 'Lock held by'), h('dd', {}, this.holder)),
      // Messages go below the buttons, so that one arriving never moves the button under a pointer.
      h('div', { class: 'actions' }, this.save, this.del, h('a', { class: 'button', href: this.folderUrl() }, 'Cancel')),
      this.confirmBox, this.notice, this.conflict);
  }

  folderUrl() { return `${this.pageBase}${keyPath(this.folder)}`; }

  /** A version from the watch: the first one fills the form, later ones only compare. */
  seen(entry) {
    if (this.root.dataset.loaded !== 'true') {
      if (entry) this.show(entry);
      else {
        flash(`There is no key ${this.key}; saving creates it`);
        this.del.hidden = true;
      }
      loaded(this.root);
    }
    this.latest = entry;
    this.compare();
  }

  /** Makes `entry` the version being edited. */
  show(entry) {
    const text = decode(entry.Value);
    Object.assign(this, { base: entry.ModifyIndex, flags: entry.Flags || 0 });
    this.value.value = text ?? `(binary value, ${atob(entry.Value || '').length} bytes: not editable here)`;
    this.value.readOnly = text === null;
    this.save.disabled = text === null;
    this.modify.textContent = String(entry.ModifyIndex);
    this.holder.replaceChildren(entry.Session ? h('code', {}, entry.Session) : '—');
    if (this.del) this.del.hidden = false;
    this.conflict.hidden = true;
  }

  /** Tells the user when the key moved on from the version they edit (a save would be refused). */
  compare() {
    const latest = this.latest;
    const moved = !this.busy && this.conflict.hidden && latest !== undefined && (latest === null ? this.base !== 0 : latest.ModifyIndex !== this.base);
    this.notice.hidden = !moved;
    if (!moved) return;
    this.notice.replaceChildren(...latest === null
      ? ['This key was deleted by someone else. ']
      : [`This key was changed by someone else (ModifyIndex ${latest.ModifyIndex}); saving will be refused. `,
        h('button', { type: 'button', onclick: () => { this.show(latest); this.compare(); } }, 'Load the new value')]);
  }

  /** A PUT or DELETE with `?cas=`: true, false (refused), or undefined (failed, flashed). */
  async write(method, target, cas, body) {
    this.busy = true;
    this.save.disabled = true;
    try {
      const flags = method === 'PUT' && this.flags ? `&flags=${this.flags}` : '';
      return await api(`/v1/kv/${keyPath(target)}?cas=${cas}${flags}`, { method, body });
    } catch (e) {
      flash(e instanceof HttpError ? `Failed: ${e.message}` : 'Failed: no answer from the agent', 'error');
      return undefined;
    } finally {
      this.busy = false;
      this.save.disabled = false;
    }
  }

  async submit() {
    this.conflict.hidden = true;
    const target = this.isNew ? this.keyInput.value.trim() : this.key;
    if (!target || target.startsWith('/')) {
      flash('A key needs a name that does not start with /', 'error');
      this.keyInput?.focus();
      return;
    }
    const ok = await this.write('PUT', target, this.isNew ? 0 : this.base, this.value.value);
    if (ok === true && this.isNew) {
      flash(`Saved ${target}`);
      navigate(`${this.pageBase}${keyPath(target)}${target.endsWith('/') ? '' : '/edit'}`, { replace: true });
    } else if (ok === true) {
      flash(`Saved ${target}`);
      const saved = await api(`/v1/kv/${keyPath(target)}`).catch(() => null);
      if (saved) this.show(saved[0]);
      this.compare();
    } else if (ok === false) {
      await this.refused(target, (entry) => this.isNew
        ? `A key named ${target} already exists; it was not overwritten.`
        : entry ? `Someone else changed this key after you loaded it (you edited ModifyIndex ${this.base}; it is now ${entry.ModifyIndex}). Your text is still here.`
          : 'Someone else deleted this key after you loaded it. Your text is still here.');
    }
  }

  /** Shows why a write was refused, with the value that won. */
  async refused(target, why) {
    const now = await api(`/v1/kv/${keyPath(target)}`, { raw: true }).catch(() => null);
    const entry = now?.ok ? (await now.json())[0] : null;
    const theirs = entry ? decode(entry.Value) : null;
    this.conflict.replaceChildren(h('strong', {}, 'Not saved. '), why(entry),
      entry && theirs !== null ? h('pre', { class: 'output' }, theirs) : '',
      !this.isNew && entry ? h('button', { type: 'button', onclick: () => { this.show(entry); this.compare(); } }, 'Load their value (drops your text)') : '');
    this.conflict.hidden = false;
    this.notice.hidden = true;
    flash('Not saved: the key changed', 'error');
  }

  askDelete() {
    this.confirmBox.replaceChildren(h('p', {}, `Delete ${this.key}? This cannot be undone.`),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', 'data-testid': 'kv-delete-confirm', onclick: () => this.doDelete() }, 'Yes, delete'),
        h('button', { type: 'button', onclick: () => { this.confirmBox.hidden = true; this.del.focus(); } }, 'Keep it')));
    this.confirmBox.hidden = false;
    this.confirmBox.querySelector('button').focus();
  }

  async doDelete() {
    const ok = await this.write('DELETE', this.key, this.base);
    this.confirmBox.hidden = true;
    if (ok === true) {
      flash(`Deleted ${this.key}`);
      navigate(this.folderUrl(), { replace: true });
    } else if (ok === false) {
      await this.refused(this.key, (entry) => entry ? `Someone else changed this key (now ModifyIndex ${entry.ModifyIndex}); it was not deleted.` : 'It was already deleted.');
    }
  }
}
