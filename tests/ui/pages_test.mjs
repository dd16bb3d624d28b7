// Each page opened in the browser shows the cluster's real data (seeded by seed.mjs).
import fs from "node:fs";
import path from "node:path";
import { HTTP_PORT, http, ok } from "./cluster.mjs";
import {
  LAPTOP, PAGE_LOAD_MS_MAX, allAttrs, attrOf, clickLink, openPage, sel, shot, waitAttr, waitLoaded, waitText,
} from "./browser.mjs";
import { KV_SEED, LOCK_KEY } from "./seed.mjs";

const README_SHOT = path.resolve("docs/images/ui-services.png");
const README_SHOT_MARGIN_PX = 24;

function expectEqual(seen, want, what) {
  if (JSON.stringify(seen) !== JSON.stringify(want)) {
    throw new Error(`${what}: expected ${JSON.stringify(want)}, saw ${JSON.stringify(seen)}`);
  }
}

/** The README's picture: the services page cut below its last row (no empty screen). */
async function readmeShot(page) {
  const box = await page.locator(sel("page-services")).boundingBox();
  const height = Math.ceil(box.y + box.height + README_SHOT_MARGIN_PX);
  fs.mkdirSync(path.dirname(README_SHOT), { recursive: true });
  await page.screenshot({ path: README_SHOT, clip: { x: 0, y: 0, width: LAPTOP.width, height } });
  console.log(`  README screenshot ${README_SHOT}`);
}

async function test_root_redirects_to_services({ cluster, page }) {
  const s1 = cluster.servers[0];
  const root = await http(s1, "GET", "/");
  expectEqual([root.status, root.headers.get("location")], [302, "/ui/"], "GET / with -ui");
  await page.goto(`http://${s1.ip}:${HTTP_PORT}/ui/`, { timeout: PAGE_LOAD_MS_MAX });
  await waitLoaded(page, "services");
  expectEqual(new URL(page.url()).pathname, "/ui/dc1/services", "/ui/ goes to the services page");
}

/** c1 runs without -ui: `/` says so and `/ui/` is an unknown path. */
async function test_ui_off_on_the_client({ cluster }) {
  const root = await http(cluster.client, "GET", "/");
  if (root.status !== 200 || !/UI disabled/.test(root.text)) {
    throw new Error(`GET / on c1 (no -ui): expected 200 "...UI disabled...", got ${root.status} ${root.text}`);
  }
  const ui = await http(cluster.client, "GET", "/ui/");
  expectEqual(ui.status, 404, "GET /ui/ on c1 (no -ui)");
}

async function test_services_page({ cluster, page }) {
  await openPage(page, cluster.servers[0], "services", "services");
  const want = { web: "passing", api: "passing", cache: "warning", payments: "critical", consul: "passing" };
  for (const [name, health] of Object.entries(want)) {
    await waitAttr(page, sel("service-row", { service: name }), "health", health, PAGE_LOAD_MS_MAX,
      `service ${name}`);
  }
  await shot(page, "services");
  if (process.env.CONCORD_UI_README_SHOT === "1") await readmeShot(page);
  await clickLink(page, sel("service-row", { service: "web" }));
  await waitLoaded(page, "service");
  expectEqual(new URL(page.url()).pathname, "/ui/dc1/services/web", "the web row's link");
}

async function test_service_page({ cluster, page }) {
  await openPage(page, cluster.servers[0], "services/web", "service");
  const instance = sel("instance-row", { node: "c1", "service-id": "web-1" });
  await waitAttr(page, instance, "health", "passing", PAGE_LOAD_MS_MAX, "web-1 on c1");
  const check = `${instance} ${sel("check-row", { "check-id": "web-ttl" })}`;
  await waitAttr(page, check, "status", "passing", PAGE_LOAD_MS_MAX, "check web-ttl");
  await waitText(page, `${check} ${sel("check-output")}`, PAGE_LOAD_MS_MAX, "web-ttl's output",
    (t) => t.includes("seeded pass"));
  await waitAttr(page, `${instance} ${sel("check-row", { "check-id": "serfHealth" })}`, "status",
    "passing", PAGE_LOAD_MS_MAX, "c1's serfHealth on the instance");
  await shot(page, "service-web");
}

async function test_nodes_page({ cluster, page }) {
  await openPage(page, cluster.servers[0], "nodes", "nodes");
  for (const node of ["s1", "s2", "s3", "c1", "c2"]) {
    await waitAttr(page, sel("node-row", { node }), "status", "alive", PAGE_LOAD_MS_MAX, `node ${node}`);
  }
  const roles = await page.evaluate((s) => Object.fromEntries([...document.querySelectorAll(s)]
    .map((e) => [e.getAttribute("data-node"), e.textContent])), sel("node-row"));
  if (!/server/i.test(roles.s1) || !/client/i.test(roles.c1)) {
    throw new Error(`role text: expected "server" in s1's row and "client" in c1's, saw ${JSON.stringify(roles)}`);
  }
  await shot(page, "nodes");
}

async function test_kv_pages({ cluster, page }) {
  await openPage(page, cluster.servers[0], "kv/", "kv");
  expectEqual((await allAttrs(page, sel("kv-folder"), "key")).sort(), ["app/", "locks/"], "root folders");
  expectEqual(await allAttrs(page, sel("kv-key"), "key"), ["readme"], "root keys");
  await shot(page, "kv");
  await clickLink(page, sel("kv-folder", { key: "app/" }));
  await waitAttr(page, sel("kv-folder", { key: "app/config/" }), "key", "app/config/", PAGE_LOAD_MS_MAX,
    "folder app/ opened by its link");
  expectEqual(new URL(page.url()).pathname, "/ui/dc1/kv/app/", "folder app/'s URL");
  expectEqual(await allAttrs(page, sel("kv-key"), "key"), ["app/feature-flags"], "keys in app/");
  await shot(page, "kv-folder-app");
  await clickLink(page, sel("kv-key", { key: "app/feature-flags" }));
  await waitText(page, sel("kv-value-input"), PAGE_LOAD_MS_MAX, "app/feature-flags' value",
    (t) => t === KV_SEED["app/feature-flags"]);
  expectEqual(new URL(page.url()).pathname, "/ui/dc1/kv/app/feature-flags/edit", "a key's URL");
  const entry = (await ok(cluster.servers[0], "GET", "/v1/kv/app/feature-flags")).json[0];
  await waitText(page, sel("kv-modify-index"), PAGE_LOAD_MS_MAX, "the key's ModifyIndex",
    (t) => t.includes(String(entry.ModifyIndex)));
  await shot(page, "kv-key");
}

async function test_sessions_page({ cluster, seeded, page }) {
  await openPage(page, cluster.servers[0], "sessions", "sessions");
  const row = sel("session-row", { "session-id": seeded.session });
  await waitAttr(page, row, "node", "s1", PAGE_LOAD_MS_MAX, "the lock holder's session");
  await waitAttr(page, sel("lock-row", { key: LOCK_KEY }), "session-id", seeded.session,
    PAGE_LOAD_MS_MAX, `the lock on ${LOCK_KEY}`);
  await shot(page, "sessions");
}

async function test_raft_page({ cluster, page }) {
  const s1 = cluster.servers[0];
  await openPage(page, s1, "raft", "raft");
  const leaderIp = (await ok(s1, "GET", "/v1/status/leader")).json.split(":")[0];
  const leader = cluster.servers.find((s) => s.ip === leaderIp).name;
  for (const server of cluster.servers) {
    const row = sel("raft-server-row", { node: server.name });
    await waitAttr(page, row, "leader", String(server.name === leader), PAGE_LOAD_MS_MAX,
      `raft row of ${server.name} (leader ${leader})`);
    const trailing = await attrOf(page, row, "trailing");
    if (!/^\d+$/.test(trailing ?? "")) throw new Error(`${server.name}'s data-trailing: expected a count, saw ${trailing}`);
  }
  expectEqual((await allAttrs(page, sel("raft-server-row"), "node")).length, 3, "raft rows");
  await waitText(page, sel("raft-term"), PAGE_LOAD_MS_MAX, "the term", (t) => /[1-9]\d*/.test(t));
  await waitText(page, sel("raft-commit-index"), PAGE_LOAD_MS_MAX, "the commit index", (t) => /[1-9]\d*/.test(t));
  await shot(page, "raft");
}

export const pageTests = [
  test_root_redirects_to_services, test_ui_off_on_the_client, test_services_page,
  test_service_page, test_nodes_page, test_kv_pages, test_sessions_page, test_raft_page,
];
export { expectEqual };
