// Headless Chromium (Debian's `chromium`, driven by playwright-core: no browser download) and
// the few helpers the tests use. Selectors come only from the UI contract in
// notes/issue15-shared.md: data-testid and data-* attributes, never classes or text layout.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { DC, HTTP_PORT, eventually } from "./cluster.mjs";

const NPM_DIR = path.resolve(process.env.CONCORD_UI_NPM_DIR || "target/ui-npm");
const CHROMIUM = process.env.CONCORD_CHROMIUM || "/usr/bin/chromium";
export const SHOTS_DIR = path.resolve(process.env.CONCORD_UI_SHOTS || "target/ui-screenshots");

/** A page's first load (assets plus its first API answers), or an element appearing. */
export const PAGE_LOAD_MS_MAX = 10000;
/** A change on the cluster shown by a blocking-query refresh, without reloading. */
export const REFRESH_MS_MAX = 10000;
export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** `[data-testid="T"][data-k="v"]...` */
export function sel(testid, attrs = {}) {
  const parts = Object.entries(attrs).map(([k, v]) => `[data-${k}=${JSON.stringify(String(v))}]`);
  return `[data-testid=${JSON.stringify(testid)}]${parts.join("")}`;
}

export async function launch() {
  // Resolve playwright-core from target/ui-npm, not from this file's folder.
  const require = createRequire(path.join(NPM_DIR, "package.json"));
  const { chromium } = require("playwright-core");
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  console.log(`chromium ${browser.version()} at ${CHROMIUM}`);
  return browser;
}

export function uiUrl(agent, pagePath) {
  return `http://${agent.ip}:${HTTP_PORT}/ui/${DC}/${pagePath}`;
}

/** Opens a UI page and waits for its root's `data-loaded="true"`. */
export async function openPage(page, agent, pagePath, name) {
  const url = uiUrl(agent, pagePath);
  await page.goto(url, { timeout: PAGE_LOAD_MS_MAX });
  await waitLoaded(page, name, url);
}

export async function waitLoaded(page, name, where = page.url()) {
  await waitAttr(page, sel(`page-${name}`), "loaded", "true", PAGE_LOAD_MS_MAX,
    `page ${name} loaded at ${where}`);
}

/** The attribute of the first element matching `selector`, or null without one. */
export function attrOf(page, selector, attr) {
  return page.evaluate(([s, a]) => {
    const element = document.querySelector(s);
    return element ? element.getAttribute(a) : null;
  }, [selector, `data-${attr}`]);
}

/** Waits until `selector`'s data-`attr` is `want`; the error says what it saw instead. */
export function waitAttr(page, selector, attr, want, ms, what) {
  return eventually(ms, `${what}: expected ${selector} with data-${attr}="${want}"`, async () => {
    const seen = await attrOf(page, selector, attr);
    if (seen !== want) throw new Error(seen === null ? "no such element" : `data-${attr}="${seen}"`);
    return seen;
  });
}

/** Waits until `selector` matches something; returns its trimmed text. */
export function waitText(page, selector, ms, what, test = () => true) {
  return eventually(ms, `${what}: expected ${selector}`, async () => {
    const text = await page.evaluate((s) => {
      const element = document.querySelector(s);
      return element ? (element.value ?? element.textContent).trim() : null;
    }, selector);
    if (text === null) throw new Error("no such element");
    if (!test(text)) throw new Error(`text ${JSON.stringify(text)}`);
    return text;
  });
}

/** Every element's data-`attr` for `selector`, in page order. */
export function allAttrs(page, selector, attr) {
  return page.evaluate(([s, a]) =>
    [...document.querySelectorAll(s)].map((e) => e.getAttribute(a)), [selector, `data-${attr}`]);
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  const file = path.join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
  return file;
}

/** Sets a marker on the window: still there later means the page was never reloaded. */
export async function markNoReload(page) {
  await page.evaluate(() => { window.__concordUiTestMarker = "same-page"; });
}

export async function assertNotReloaded(page) {
  const marker = await page.evaluate(() => window.__concordUiTestMarker);
  if (marker !== "same-page") throw new Error(`the page was reloaded (marker ${marker}); refreshes must not reload`);
}

/** Clicks the element when it is a link, else the first link inside it (rows hold links). */
export async function clickLink(page, selector) {
  await page.locator(`a${selector}, ${selector} a`).first().click({ timeout: PAGE_LOAD_MS_MAX });
}

/** Runs `fn` with extra pages (tabs) that the test closes itself; when it fails, each
 * page's screenshot is saved first (the runner only sees the test's main page). */
export async function withPages(pages, what, fn) {
  try {
    return await fn();
  } catch (e) {
    for (const [i, page] of pages.entries()) await shot(page, `FAILED-${what}-tab${i + 1}`).catch(() => {});
    throw e;
  } finally {
    await Promise.all(pages.map((p) => p.close()));
  }
}
