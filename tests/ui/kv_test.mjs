// The KV editor through the browser: create, edit, a CAS conflict when the key changed
// underneath, delete with an in-page confirmation. Every write is checked over HTTP.
import { eventually, http, ok, sleep } from "./cluster.mjs";
import { PAGE_LOAD_MS_MAX, openPage, sel, shot, waitText } from "./browser.mjs";
import { expectEqual } from "./pages_test.mjs";

const KEY = "ui-test/created";
/** Long enough for a UI that follows the key by blocking query to take the change in. */
const UNDERNEATH_SETTLE_MS = 1500;

/** The key's value over HTTP, or null when it does not exist. */
async function valueOf(agent, key) {
  const answer = await http(agent, "GET", `/v1/kv/${key}?raw`);
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`GET /v1/kv/${key}: ${answer.status} ${answer.text}`);
  return answer.text;
}

function expectValue(agent, key, want, what) {
  return eventually(PAGE_LOAD_MS_MAX, `${what}: expected ${key} = ${JSON.stringify(want)} over HTTP`,
    async () => {
      const seen = await valueOf(agent, key);
      if (seen !== want) throw new Error(JSON.stringify(seen));
    });
}

/** Records the query of every KV write (PUT, DELETE) the page sends: each carries `?cas=`. */
function recordWrites(page) {
  const writes = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (request.method() !== "GET" && url.pathname.startsWith("/v1/kv/")) writes.push(url.search);
  });
  return writes;
}

function expectCas(writes, index, what) {
  const last = writes.at(-1);
  if (new URLSearchParams(last ?? "").get("cas") !== String(index)) {
    throw new Error(`${what}: expected the write to carry ?cas=${index}, saw ${JSON.stringify(writes)}`);
  }
}

/** Fails the test if the page ever opens window.alert/confirm/prompt. */
function refuseDialogs(page) {
  const seen = [];
  page.on("dialog", (dialog) => { seen.push(`${dialog.type()}: ${dialog.message()}`); dialog.dismiss(); });
  return () => { if (seen.length) throw new Error(`window dialogs (the contract wants in-page ones): ${seen.join("; ")}`); };
}

async function test_kv_create_edit_delete({ cluster, page }) {
  const s1 = cluster.servers[0];
  const noDialogs = refuseDialogs(page);
  const writes = recordWrites(page);
  await openPage(page, s1, "kv/", "kv");
  await page.click(sel("kv-create"));
  await page.fill(sel("kv-key-input"), KEY, { timeout: PAGE_LOAD_MS_MAX });
  await page.fill(sel("kv-value-input"), "hello");
  await shot(page, "kv-create");
  await page.click(sel("kv-save"));
  await expectValue(s1, KEY, "hello", "created in the browser");
  expectCas(writes, 0, "a new key");
  await waitText(page, sel("flash"), PAGE_LOAD_MS_MAX, "a status message after saving", (t) => t.length > 0);

  await openPage(page, s1, `kv/${KEY}/edit`, "kv");
  await waitText(page, sel("kv-value-input"), PAGE_LOAD_MS_MAX, "the saved value", (t) => t === "hello");
  const created = (await ok(s1, "GET", `/v1/kv/${KEY}`)).json[0].ModifyIndex;
  await page.fill(sel("kv-value-input"), "hello, edited");
  await page.click(sel("kv-save"));
  await expectValue(s1, KEY, "hello, edited", "edited in the browser");
  expectCas(writes, created, "an edit");
  const index = (await ok(s1, "GET", `/v1/kv/${KEY}`)).json[0].ModifyIndex;
  await waitText(page, sel("kv-modify-index"), PAGE_LOAD_MS_MAX, `ModifyIndex ${index} after the edit`,
    (t) => t.includes(String(index)));

  await openPage(page, s1, `kv/${KEY}/edit`, "kv");
  await page.click(sel("kv-delete"));
  await page.click(sel("kv-delete-confirm"), { timeout: PAGE_LOAD_MS_MAX });
  await expectValue(s1, KEY, null, "deleted in the browser");
  expectCas(writes, index, "a delete");
  await eventually(PAGE_LOAD_MS_MAX, `the page after the delete shows no ${KEY}`, async () => {
    if (await page.$(sel("kv-key", { key: KEY }))) throw new Error("its kv-key row is still there");
  });
  await shot(page, "kv-deleted");
  noDialogs();
}

/** Someone else writes the key between opening it and saving: the save is refused and shown,
 * and their value stays. */
async function test_kv_cas_conflict_is_reported({ cluster, page }) {
  const s1 = cluster.servers[0];
  const key = "ui-test/contended";
  await ok(s1, "PUT", `/v1/kv/${key}`, "first");
  await openPage(page, s1, `kv/${key}/edit`, "kv");
  await waitText(page, sel("kv-value-input"), PAGE_LOAD_MS_MAX, "the value", (t) => t === "first");
  await page.fill(sel("kv-value-input"), "from the browser");
  await ok(s1, "PUT", `/v1/kv/${key}`, "changed underneath");
  await sleep(UNDERNEATH_SETTLE_MS);
  await page.click(sel("kv-save"));
  const reason = await waitText(page, sel("kv-conflict"), PAGE_LOAD_MS_MAX,
    "a conflict shown for a save over a newer value", (t) => t.length > 0);
  console.log(`  conflict shown: ${JSON.stringify(reason)}`);
  await shot(page, "kv-conflict");
  await sleep(UNDERNEATH_SETTLE_MS);
  expectEqual(await valueOf(s1, key), "changed underneath", "the other writer's value after a refused save");
  await ok(s1, "DELETE", `/v1/kv/${key}`);
}

export const kvTests = [test_kv_create_edit_delete, test_kv_cas_conflict_is_reported];
