// Pages follow the cluster by blocking queries, without a reload and without layout jumps: a
// TTL check failed and passed again, a short TTL left to expire, a client agent leaving and
// one killed.
import { concordLeave, kill9, ok, sleep } from "./cluster.mjs";
import {
  LAPTOP, PAGE_LOAD_MS_MAX, REFRESH_MS_MAX, allAttrs, assertNotReloaded, markNoReload, openPage, sel, shot,
  waitAttr, waitText, withPages,
} from "./browser.mjs";
import { expectEqual } from "./pages_test.mjs";
import { SERVICES } from "./seed.mjs";

/** Membership marks a killed member failed after a probe and its suspicion (about 7 s here). */
const FAILED_MS_MAX = 25000;
/** The expiry test's check: short, so the run stays short. */
const TTL_SHORT_S = 3;
const WEB_ROW = sel("service-row", { service: "web" });
/** After the first load, before watching: follow-up queries of the first answers start. */
const QUIET_SETTLE_MS = 500;
/** Nothing changes in the cluster meanwhile: a 1 s poll would start a request or more per list. */
const QUIET_WINDOW_MS = 2500;
/** A list may be re-asked once (an index that moved for something not shown). */
const QUIET_REQUESTS_MAX = 2;
/** After a list's blocking query answers: the reads it starts and the redraw, watched frame by frame. */
const REDRAW_SETTLE_MS = 750;

/** Records, every frame until stopped, the page height and the boxes of `selector`'s
 * elements (distinct states only), and the layout shifts Chromium reports. */
async function watchLayout(page, selector) {
  await page.evaluate((s) => {
    const watch = { shifts: [], states: [], stop: false };
    window.__concordLayout = watch;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) watch.shifts.push(e.value);
    }).observe({ type: "layout-shift" });
    const sample = () => {
      if (watch.stop) return;
      const boxes = [...document.querySelectorAll(s)].map((e) => {
        const r = e.getBoundingClientRect();
        return `${e.getAttribute("data-service")}@${r.x},${r.y} ${r.width}x${r.height}`;
      });
      const state = `height ${document.documentElement.scrollHeight}: ${boxes.join(" ")}`;
      if (watch.states.at(-1) !== state) watch.states.push(state);
      requestAnimationFrame(sample);
    };
    sample();
  }, selector);
  return async () => page.evaluate(() => {
    window.__concordLayout.stop = true;
    return window.__concordLayout;
  });
}

function boxes(page, selector) {
  return page.evaluate((s) => [...document.querySelectorAll(s)].map((e) => {
    const r = e.getBoundingClientRect();
    return [e.getAttribute("data-service") ?? e.getAttribute("data-node"), r.x, r.y, r.width, r.height];
  }), selector);
}

/** A refresh that changes nothing shown (a service's Meta) moves nothing on the services page. */
async function test_no_layout_jump_on_refresh({ cluster, page }) {
  const [s1, c1] = [cluster.servers[0], cluster.client];
  await openPage(page, s1, "services", "services");
  await waitAttr(page, WEB_ROW, "health", "passing", PAGE_LOAD_MS_MAX, "web");
  const stopWatching = await watchLayout(page, sel("service-row"));
  const indexBefore = Number((await ok(s1, "GET", "/v1/catalog/services")).headers.get("x-consul-index"));
  const refreshed = page.waitForResponse((r) => r.url().includes("/v1/") &&
    Number(r.headers()["x-consul-index"]) > indexBefore, { timeout: REFRESH_MS_MAX });
  const [id, port, tags] = SERVICES.api;
  await ok(c1, "PUT", "/v1/agent/service/register",
    { ID: id, Name: "api", Tags: tags, Address: c1.ip, Port: port, Meta: { rev: "2" } });
  const response = await refreshed.catch(() => {
    throw new Error(`no blocking query of the services page answered with an index above ${indexBefore} within ${REFRESH_MS_MAX} ms after a catalog change`);
  });
  console.log(`  refresh seen: ${new URL(response.url()).pathname} index ${response.headers()["x-consul-index"]}`);
  await sleep(REDRAW_SETTLE_MS); // the reads that follow the answer, and the redraw
  const { states, shifts } = await stopWatching();
  if (states.length !== 1) {
    throw new Error(`expected the page height and service rows' boxes unchanged in every frame across a refresh ` +
      `that changes nothing shown; saw ${states.length} states:\n  ${states.join("\n  ")}`);
  }
  expectEqual(shifts, [], "layout-shift entries during the refresh");
}

async function test_ttl_check_fails_and_passes_without_reload({ cluster, page, context }) {
  const [s1, c1] = [cluster.servers[0], cluster.client];
  const servicePage = await context.newPage();
  await withPages([servicePage], "service-page", async () => {
    await openPage(page, s1, "services", "services");
    await openPage(servicePage, s1, "services/web", "service");
    await Promise.all([markNoReload(page), markNoReload(servicePage)]);
    const rowBefore = (await boxes(page, WEB_ROW))[0];
    const check = sel("check-row", { "check-id": "web-ttl" });
    await ok(c1, "PUT", "/v1/agent/check/fail/web-ttl?note=failed+by+the+browser+test");
    await waitAttr(page, WEB_ROW, "health", "critical", REFRESH_MS_MAX, "web after /fail");
    await waitAttr(servicePage, check, "status", "critical", REFRESH_MS_MAX, "web-ttl after /fail");
    await waitAttr(servicePage, sel("instance-row", { "service-id": "web-1" }), "health", "critical",
      REFRESH_MS_MAX, "web-1 after /fail");
    await waitText(servicePage, `${check} ${sel("check-output")}`, REFRESH_MS_MAX, "the failing note",
      (t) => t.includes("failed by the browser test"));
    await shot(page, "services-critical");
    await shot(servicePage, "service-web-critical");
    const rowAfter = (await boxes(page, WEB_ROW))[0];
    expectEqual([rowAfter[2], rowAfter[4]], [rowBefore[2], rowBefore[4]], "web row's top and height when it turns critical");
    await ok(c1, "PUT", "/v1/agent/check/pass/web-ttl?note=passing+again");
    await waitAttr(page, WEB_ROW, "health", "passing", REFRESH_MS_MAX, "web after /pass");
    await waitAttr(servicePage, check, "status", "passing", REFRESH_MS_MAX, "web-ttl after /pass");
    await assertNotReloaded(page);
    await assertNotReloaded(servicePage);
  });
}

/** Nobody calls /fail: the TTL runs out and the page shows it. */
async function test_ttl_expiry_turns_the_service_critical({ cluster, page }) {
  const [s1, c1] = [cluster.servers[0], cluster.client];
  await openPage(page, s1, "services/web", "service");
  await markNoReload(page);
  const check = sel("check-row", { "check-id": "web-ttl-short" });
  await ok(c1, "PUT", "/v1/agent/check/register", { ID: "web-ttl-short", Name: "web short TTL",
    ServiceID: "web-1", TTL: `${TTL_SHORT_S}s`, Status: "passing" });
  await waitAttr(page, check, "status", "critical", TTL_SHORT_S * 1000 + REFRESH_MS_MAX, "web-ttl-short once its TTL ran out");
  await waitText(page, `${check} ${sel("check-output")}`, REFRESH_MS_MAX, "the expiry's output",
    (t) => /TTL expired/i.test(t));
  await waitAttr(page, sel("instance-row", { "service-id": "web-1" }), "health", "critical",
    REFRESH_MS_MAX, "web-1 with an expired TTL");
  await ok(c1, "PUT", "/v1/agent/check/deregister/web-ttl-short");
  await waitAttr(page, sel("instance-row", { "service-id": "web-1" }), "health", "passing",
    REFRESH_MS_MAX, "web-1 once the expired check is gone");
  expectEqual(await allAttrs(page, check, "status"), [], "the deregistered check's rows");
  await assertNotReloaded(page);
}

/** `concord leave` on c2: its row says left (gossip keeps the member; the catalog drops it). */
async function test_left_client_is_marked_left({ cluster, page }) {
  await openPage(page, cluster.servers[0], "nodes", "nodes");
  await waitAttr(page, sel("node-row", { node: "c2" }), "status", "alive", PAGE_LOAD_MS_MAX, "c2 before it leaves");
  await markNoReload(page);
  await concordLeave(cluster.leaver);
  console.log("  c2 left (concord leave)");
  await waitAttr(page, sel("node-row", { node: "c2" }), "status", "left", REFRESH_MS_MAX, "c2 after concord leave");
  await shot(page, "nodes-left");
  await assertNotReloaded(page);
}

async function test_killed_client_is_marked_failed({ cluster, page }) {
  const s1 = cluster.servers[0];
  await openPage(page, s1, "nodes", "nodes");
  await waitAttr(page, sel("node-row", { node: "c1" }), "status", "alive", PAGE_LOAD_MS_MAX, "c1 before the kill");
  await markNoReload(page);
  await kill9(cluster.client);
  console.log(`  killed c1 (pid ${cluster.client.proc.pid}) with SIGKILL`);
  await waitAttr(page, sel("node-row", { node: "c1" }), "status", "failed", FAILED_MS_MAX, "c1 after kill -9");
  for (const node of ["s1", "s2", "s3"]) {
    await waitAttr(page, sel("node-row", { node }), "status", "alive", PAGE_LOAD_MS_MAX, `${node} after c1's kill`);
  }
  await shot(page, "nodes-failed");
  await assertNotReloaded(page);
  const members = (await ok(s1, "GET", "/v1/agent/members")).json;
  expectEqual(members.find((m) => m.Name === "c1")?.Status, 4, "c1's gossip status over HTTP (4 = failed)");
  // Its node's serfHealth is critical now, so every service on it is.
  await openPage(page, s1, "services", "services");
  await waitAttr(page, WEB_ROW, "health", "critical", REFRESH_MS_MAX, "web on the killed c1");
}

/** Track the page's API requests: how many started, and which are still waiting. */
function trackApi(page) {
  const state = { started: 0, open: new Set() };
  page.on("request", (r) => {
    if (!new URL(r.url()).pathname.startsWith("/v1/")) return;
    state.started += 1;
    state.open.add(r);
  });
  const done = (r) => state.open.delete(r);
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  return state;
}

/** With nothing changing, list pages hold blocking queries open (`?index=`) instead of
 * polling: few requests start in a quiet window, and some wait with an index. */
async function test_lists_wait_on_blocking_queries({ cluster, browser }) {
  const names = { services: "services", nodes: "nodes", "kv/app/": "kv", sessions: "sessions" };
  // One context each: tabs of one context share Chromium's 6 connections per host, which
  // four pages' held blocking queries would use up (a page then waits to load).
  const pages = await Promise.all(Object.keys(names).map(() => browser.newPage({ viewport: LAPTOP })));
  await withPages(pages, "blocking", async () => {
    const tracked = pages.map(trackApi);
    await Promise.all(Object.entries(names).map(([path, name], i) =>
      openPage(pages[i], cluster.servers[0], path, name)));
    await sleep(QUIET_SETTLE_MS);
    const before = tracked.map((t) => t.started);
    await sleep(QUIET_WINDOW_MS);
    Object.keys(names).forEach((path, i) => {
      const started = tracked[i].started - before[i];
      const blocking = [...tracked[i].open].filter((r) => Number(new URL(r.url()).searchParams.get("index")) > 0);
      if (started > QUIET_REQUESTS_MAX || blocking.length === 0) {
        throw new Error(`page ${path}: expected at most ${QUIET_REQUESTS_MAX} API requests in a quiet ${QUIET_WINDOW_MS} ms ` +
          `and a blocking query (?index=N) waiting; saw ${started} started, waiting: ${[...tracked[i].open].map((r) => r.url()).join(" ") || "none"}`);
      }
    });
  });
}

export const liveTests = [
  test_lists_wait_on_blocking_queries, test_no_layout_jump_on_refresh, test_ttl_check_fails_and_passes_without_reload,
  test_ttl_expiry_turns_the_service_critical,
];
export const killTests = [test_left_client_is_marked_left, test_killed_client_is_marked_failed];
