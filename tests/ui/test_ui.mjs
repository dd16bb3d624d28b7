// The web UI in a real browser: headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real cluster of 3 servers and 2 client agents with real data.
// Prints each test's name and result; every failure says what was expected and where the
// agents' logs are; exits non-zero on any failure. Screenshots go to target/ui-screenshots/
// (with CONCORD_UI_README_SHOT=1 the services page also to docs/images/ui-services.png).
// Run: `cargo xtask ui` (installs chromium and the pinned packages into target/ui-npm), or:
//   CONCORD_BIN=target/debug/concord CONCORD_UI_NPM_DIR=target/ui-npm node tests/ui/test_ui.mjs
// Optional: CONCORD_UI_ONLY=substring runs the matching tests only (the cluster always starts);
// CONCORD_UI_DIR=node/ui serves the assets from that folder (-ui-dir).
import fs from "node:fs";
import { logPaths, startCluster } from "./cluster.mjs";
import { LAPTOP, SHOTS_DIR, launch, shot } from "./browser.mjs";
import { seed } from "./seed.mjs";
import { pageTests } from "./pages_test.mjs";
import { kvTests } from "./kv_test.mjs";
import { killTests, liveTests } from "./live_test.mjs";
import { accessTests } from "./access_test.mjs";

/** The whole run, cluster start to the last test; past it, everything is killed. */
const RUN_MS_MAX = 180000;

// The kill comes last: it takes the client's services down with it.
const TESTS = [...pageTests, ...kvTests, ...liveTests, ...accessTests, ...killTests];

const started = Date.now();
setTimeout(() => {
  console.error(`FAIL: the run took over ${RUN_MS_MAX} ms; agent logs: ${logPaths()}`);
  process.exit(1);
}, RUN_MS_MAX).unref();
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

/** Runs one test on a fresh page; uncaught errors in the page fail it too. */
async function runOne(test, env) {
  const page = await env.context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // Shown, not failed: a 404 for a key that is gone is an answer the UI expects.
  page.on("response", (r) => { if (r.status() >= 400) console.log(`  (${r.status()} ${r.request().method()} ${r.url()})`); });
  const t0 = Date.now();
  try {
    await test({ ...env, page });
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join("; ")}`);
    console.log(`ok   ${test.name} (${Date.now() - t0} ms)`);
    return true;
  } catch (e) {
    console.log(`FAIL ${test.name} (${Date.now() - t0} ms): ${e.message}`);
    console.log(`     at ${page.url()}; agent logs: ${logPaths()}`);
    await shot(page, `FAILED-${test.name}`).catch(() => {});
    return false;
  } finally {
    await page.close();
  }
}

async function main() {
  const only = process.env.CONCORD_UI_ONLY;
  const tests = TESTS.filter((t) => !only || t.name.includes(only));
  fs.rmSync(SHOTS_DIR, { recursive: true, force: true }); // no stale screenshots
  const cluster = await startCluster();
  const seeded = await seed(cluster);
  console.log(`cluster up and seeded in ${Date.now() - started} ms`);
  const browser = await launch();
  const failed = [];
  try {
    const context = await browser.newContext({ viewport: LAPTOP });
    for (const test of tests) {
      if (!(await runOne(test, { cluster, seeded, browser, context }))) failed.push(test.name);
    }
  } finally {
    await browser.close();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${tests.length - failed.length} passed, ${failed.length} failed in ${seconds} s; ` +
    `screenshots in ${SHOTS_DIR}`);
  if (failed.length) {
    console.log(`failed: ${failed.join(", ")}\nagent logs: ${logPaths()}`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e.message}\nagent logs: ${logPaths()}`);
  process.exit(1);
});
