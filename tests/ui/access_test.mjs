// Readable on a phone, usable by keyboard.
import { eventually, http, ok } from "./cluster.mjs";
import { PAGE_LOAD_MS_MAX, PHONE, openPage, sel, shot, waitAttr, waitLoaded, withPages } from "./browser.mjs";

const NAV = ["nav-services", "nav-nodes", "nav-kv", "nav-sessions", "nav-raft"];
/** Tab presses allowed to reach every nav link (a skip link and a few more may come first). */
const TAB_PRESSES_MAX = 15;
const KEYBOARD_KEY = "ui-test/typed";
/** The other pages a phone must show without sideways scrolling: [path, page, screenshot]. */
const PHONE_PAGES = [
  ["services/web", "service", "service-web-phone"], ["nodes", "nodes", "nodes-phone"],
  ["kv/app/config/db_url/edit", "kv", "kv-key-phone"], ["sessions", "sessions", "sessions-phone"],
  ["raft", "raft", "raft-phone"],
];

/** What has the focus: its data-testid, and whether a focus indicator is drawn. */
function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return { testid: null, visible: false };
    const style = getComputedStyle(e);
    const visible = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 ||
      style.boxShadow !== "none";
    return { testid: e.getAttribute("data-testid"), visible };
  });
}

async function test_tab_reaches_every_nav_link({ cluster, page }) {
  await openPage(page, cluster.servers[0], "services", "services");
  const reached = new Map();
  for (let press = 0; press < TAB_PRESSES_MAX && reached.size < NAV.length; press++) {
    await page.keyboard.press("Tab");
    const { testid, visible } = await focused(page);
    if (NAV.includes(testid)) reached.set(testid, visible);
  }
  const missing = NAV.filter((n) => !reached.has(n));
  if (missing.length) throw new Error(`Tab (${TAB_PRESSES_MAX} presses) did not reach ${missing.join(", ")}`);
  const unmarked = [...reached].filter(([, visible]) => !visible).map(([n]) => n);
  if (unmarked.length) throw new Error(`no visible focus indicator (outline or box-shadow) on ${unmarked.join(", ")}`);
  await page.focus(sel("nav-nodes"));
  await page.keyboard.press("Enter");
  await waitLoaded(page, "nodes");
}

/** Presses Tab until the element with `testid` has the focus, at most TAB_PRESSES_MAX times. */
async function tabTo(page, testid) {
  const seen = [];
  for (let press = 0; press < TAB_PRESSES_MAX; press++) {
    await page.keyboard.press("Tab");
    const { testid: now } = await focused(page);
    if (now === testid) return;
    seen.push(now ?? "(no testid)");
  }
  throw new Error(`Tab did not reach ${testid} in ${TAB_PRESSES_MAX} presses; focus went ${seen.join(" > ")}`);
}

/** A key created with the keyboard alone: Enter on kv-create, Tab between fields, Enter on save. */
async function test_kv_key_created_by_keyboard({ cluster, page }) {
  const s1 = cluster.servers[0];
  await openPage(page, s1, "kv/", "kv");
  await page.focus(sel("kv-create"));
  await page.keyboard.press("Enter");
  await page.waitForSelector(sel("kv-key-input"), { timeout: PAGE_LOAD_MS_MAX });
  await page.focus("body");
  await tabTo(page, "kv-key-input");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(KEYBOARD_KEY);
  await tabTo(page, "kv-value-input");
  await page.keyboard.type("typed");
  await tabTo(page, "kv-save");
  await page.keyboard.press("Enter");
  await eventually(PAGE_LOAD_MS_MAX, `${KEYBOARD_KEY} = "typed" over HTTP after Enter on save`, async () => {
    const answer = await http(s1, "GET", `/v1/kv/${KEYBOARD_KEY}?raw`);
    if (answer.text !== "typed") throw new Error(`${answer.status} ${answer.text}`);
  });
  await ok(s1, "DELETE", `/v1/kv/${KEYBOARD_KEY}`);
}

/** No sideways scrolling on a phone: the page is no wider than the screen. */
async function expectFitsPhone(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > PHONE.width) throw new Error(`${what}: page ${width} px wide on a ${PHONE.width} px screen: expected no sideways scrolling`);
}

async function test_phone_sized_pages({ cluster, context }) {
  const page = await context.browser().newPage({ viewport: PHONE, isMobile: true, hasTouch: true });
  await withPages([page], "phone", async () => {
    await openPage(page, cluster.servers[0], "services", "services");
    await waitAttr(page, sel("service-row", { service: "web" }), "health", "passing", PAGE_LOAD_MS_MAX, "web on a phone");
    await shot(page, "services-phone");
    await expectFitsPhone(page, "services");
    const row = await page.locator(sel("service-row", { service: "web" })).boundingBox();
    if (!row || row.x < 0 || row.x + row.width > PHONE.width) {
      throw new Error(`web's row ${JSON.stringify(row)}: expected inside the ${PHONE.width} px screen`);
    }
    for (const [path, name, file] of PHONE_PAGES) {
      await openPage(page, cluster.servers[0], path, name);
      await shot(page, file);
      await expectFitsPhone(page, path);
    }
  });
}

export const accessTests = [test_tab_reaches_every_nav_link, test_kv_key_created_by_keyboard, test_phone_sized_pages];
