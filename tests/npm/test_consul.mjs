// The npm `consul` client (2.x, and 0.40 for its Lock helper), unchanged, against a real
// `concord agent -dev` on free ports. Prints each test's name and result; exits non-zero on
// any failure. Run: `cargo xtask npm` (installs the packages into target/npm), or by hand:
//   CONCORD_BIN=target/debug/concord CONCORD_NPM_DIR=target/npm node tests/npm/test_consul.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const IP = process.env.CONCORD_NPM_IP || "127.0.18.1";
const BIN = process.env.CONCORD_BIN || "target/debug/concord";
const NPM_DIR = path.resolve(process.env.CONCORD_NPM_DIR || "target/npm");
const AGENT_LOG = process.env.CONCORD_NPM_LOG || "target/npm-consul-agent.log";
// Resolve the packages from target/npm, not from this file's folder.
const requireNpm = createRequire(path.join(NPM_DIR, "package.json"));
const Consul = requireNpm("consul"); // 2.x: promises
const LegacyConsul = requireNpm("consul-legacy"); // 0.40: callbacks, has consul.lock

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, IP, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startAgent() {
  const [http, rpc, serf] = [await freePort(), await freePort(), await freePort()];
  const log = fs.openSync(AGENT_LOG, "w");
  const args = ["agent", "-dev", "-bind", IP, "-client", IP, "--http-port", `${http}`,
    "--server-port", `${rpc}`, "--serf-lan-port", `${serf}`, "--dns-port", "-1"];
  const proc = spawn(BIN, args, { stdio: ["ignore", log, log] });
  // The agent never outlives this script, however it ends.
  process.on("exit", () => proc.kill("SIGKILL"));
  const consul = new Consul({ host: IP, port: http });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    try {
      if (await consul.status.leader()) return { proc, consul, http };
    } catch (_) { /* not up yet */ }
    await sleep(200);
  }
  proc.kill("SIGKILL");
  throw new Error(`agent did not come up; see ${AGENT_LOG}`);
}

/** Raw HTTP for what the package does not expose (headers, status codes). */
async function raw(http, method, pathAndQuery, body) {
  const res = await fetch(`http://${IP}:${http}${pathAndQuery}`, { method, body });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (_) { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const b64 = (s) => Buffer.from(s).toString("base64");

/** A papi context that makes a call answer [response, data] (headers for X-Consul-Index). */
const withResponse = () => Object.assign(new EventEmitter(), { includeResponse: true });

/** The package turns a `false` answer into undefined (papi keeps only truthy results), so a
 * refused write is "not true"; test_kv_acquire_release checks the raw `false` once. */
const refused = (answer) => assert.notEqual(answer, true);

// ---------------------------------------------------------------- KV

async function test_kv_set_get_del_recurse({ consul }) {
  assert.equal(await consul.kv.set("npm/a", "1"), true);
  assert.equal(await consul.kv.set({ key: "npm/b/c", value: "2", flags: 7 }), true);
  const one = await consul.kv.get("npm/a");
  assert.equal(one.Value, "1");
  assert.equal(one.Key, "npm/a");
  assert.equal(one.LockIndex, 0);
  assert.ok(!("Session" in one), JSON.stringify(one));
  const all = await consul.kv.get({ key: "npm/", recurse: true });
  assert.deepEqual(all.map((e) => [e.Key, e.Value, e.Flags]), [["npm/a", "1", 0], ["npm/b/c", "2", 7]]);
  assert.deepEqual(await consul.kv.keys({ key: "npm/", separator: "/" }), ["npm/a", "npm/b/"]);
  assert.equal(await consul.kv.del({ key: "npm/", recurse: true }), true);
  assert.equal(await consul.kv.get({ key: "npm/", recurse: true }), undefined);
  assert.equal(await consul.kv.get("npm/a"), undefined);
}

async function test_kv_cas({ consul }) {
  assert.equal(await consul.kv.set({ key: "npmcas/k", value: "x", cas: 0 }), true);
  refused(await consul.kv.set({ key: "npmcas/k", value: "y", cas: 0 }));
  const entry = await consul.kv.get("npmcas/k");
  assert.equal(await consul.kv.set({ key: "npmcas/k", value: "y", cas: entry.ModifyIndex }), true);
  refused(await consul.kv.del({ key: "npmcas/k", cas: entry.ModifyIndex }));
  assert.equal((await consul.kv.get("npmcas/k")).Value, "y");
}

// ---------------------------------------------------------------- sessions

async function nodeName(consul) {
  return (await consul.agent.self()).Config.NodeName;
}

async function test_session_create_info_list_node_renew_destroy({ consul }) {
  const node = await nodeName(consul);
  const { ID: id } = await consul.session.create({
    name: "npm-s", ttl: "15s", lockdelay: "5s", behavior: "delete",
  });
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const info = await consul.session.info(id);
  const keys = ["ID", "Name", "Node", "LockDelay", "Behavior", "TTL", "NodeChecks", "ServiceChecks",
    "CreateIndex", "ModifyIndex"];
  assert.deepEqual(Object.keys(info), keys);
  assert.equal(info.Name, "npm-s");
  assert.equal(info.Node, node);
  assert.equal(info.LockDelay, 5e9);
  assert.equal(info.Behavior, "delete");
  assert.equal(info.TTL, "15s");
  assert.deepEqual(info.NodeChecks, ["serfHealth"]);
  assert.equal(info.CreateIndex, info.ModifyIndex);
  assert.ok((await consul.session.list()).some((s) => s.ID === id));
  assert.ok((await consul.session.node(node)).some((s) => s.ID === id));
  assert.deepEqual(await consul.session.node("no-such-node"), []);
  const renewed = await consul.session.renew(id);
  assert.equal(renewed.length, 1);
  assert.equal(renewed[0].ID, id);
  await consul.session.destroy(id);
  assert.equal(await consul.session.info(id), undefined);
  assert.ok(!(await consul.session.list()).some((s) => s.ID === id));
  await assert.rejects(consul.session.renew(id), (e) => e.statusCode === 404);
}

async function test_session_defaults({ consul }) {
  const { ID: id } = await consul.session.create();
  const info = await consul.session.info(id);
  assert.equal(info.LockDelay, 15e9);
  assert.equal(info.Behavior, "release");
  assert.equal(info.TTL, "");
  await consul.session.destroy(id);
}

async function test_session_bad_input_is_400({ consul }) {
  for (const opts of [{ ttl: "5s" }, { ttl: "25h" }, { ttl: "soon" }, { behavior: "explode" }]) {
    await assert.rejects(consul.session.create(opts), (e) => e.statusCode === 400, JSON.stringify(opts));
  }
}

// ---------------------------------------------------------------- locks

async function test_kv_acquire_release({ consul, http }) {
  const { ID: s1 } = await consul.session.create({ name: "holder", lockdelay: "0s" });
  const { ID: s2 } = await consul.session.create({ name: "contender", lockdelay: "0s" });
  assert.equal(await consul.kv.set({ key: "npmlock/k", value: "mine", acquire: s1 }), true);
  let entry = await consul.kv.get("npmlock/k");
  assert.equal(entry.Session, s1);
  assert.equal(entry.LockIndex, 1);
  assert.equal(entry.Value, "mine");
  refused(await consul.kv.set({ key: "npmlock/k", value: "theirs", acquire: s2 }));
  assert.equal(await consul.kv.set({ key: "npmlock/k", value: "mine2", acquire: s1 }), true);
  entry = await consul.kv.get("npmlock/k");
  assert.equal(entry.LockIndex, 1, "re-acquire by the holder keeps LockIndex");
  assert.equal(entry.Value, "mine2");
  refused(await consul.kv.set({ key: "npmlock/k", value: "x", release: s2 }));
  const lost = await raw(http, "PUT", `/v1/kv/npmlock/k?acquire=${s2}`, "theirs");
  assert.equal(lost.text, "false");
  assert.equal(lost.headers.get("content-type"), "application/json");
  assert.equal((await consul.kv.get("npmlock/k")).Session, s1);
  assert.equal(await consul.kv.set({ key: "npmlock/k", value: "freed", release: s1 }), true);
  entry = await consul.kv.get("npmlock/k");
  assert.ok(!("Session" in entry), JSON.stringify(entry));
  assert.equal(entry.LockIndex, 1);
  assert.equal(entry.Value, "freed");
  // The second session gets it now: LockIndex moves on, and the fencing token is the ModifyIndex.
  const won = await raw(http, "PUT", `/v1/kv/npmlock/k?acquire=${s2}`, "theirs");
  assert.equal(won.json, true);
  entry = await consul.kv.get("npmlock/k");
  assert.equal(entry.Session, s2);
  assert.equal(entry.LockIndex, 2);
  assert.equal(won.headers.get("x-concord-fencing-token"), `${entry.ModifyIndex}`);
  await consul.session.destroy(s1);
  await consul.session.destroy(s2);
  entry = await consul.kv.get("npmlock/k");
  assert.ok(!("Session" in entry), "destroying a release-behaviour session frees its locks");
}

async function test_acquire_with_unknown_session_is_refused({ consul }) {
  await assert.rejects(
    consul.kv.set({ key: "npmlock/u", value: "v", acquire: "00000000-0000-4000-8000-000000000000" }),
    (e) => e.statusCode >= 400 && e.statusCode < 600,
  );
  assert.equal(await consul.kv.get("npmlock/u"), undefined);
}

async function test_behavior_delete_and_lock_delay({ consul }) {
  const { ID: del } = await consul.session.create({ behavior: "delete", lockdelay: "0s" });
  assert.equal(await consul.kv.set({ key: "npmdel/k", value: "v", acquire: del }), true);
  await consul.session.destroy(del);
  assert.equal(await consul.kv.get("npmdel/k"), undefined, "behavior delete removes the key");
  const { ID: s1 } = await consul.session.create({ lockdelay: "2s" });
  const { ID: s2 } = await consul.session.create({ lockdelay: "0s" });
  assert.equal(await consul.kv.set({ key: "npmdelay/k", value: "v", acquire: s1 }), true);
  const destroyed = Date.now();
  await consul.session.destroy(s1);
  refused(await consul.kv.set({ key: "npmdelay/k", value: "v", acquire: s2 }));
  while (!(await consul.kv.set({ key: "npmdelay/k", value: "v", acquire: s2 }))) {
    assert.ok(Date.now() - destroyed < 6000, "lock-delay of 2 s never ended");
    await sleep(200);
  }
  assert.ok(Date.now() - destroyed >= 1900, `acquired after ${Date.now() - destroyed} ms`);
  await consul.session.destroy(s2);
}

// ---------------------------------------------------------------- transactions

async function test_txn_commit({ consul }) {
  const { ID: sid } = await consul.session.create({ lockdelay: "0s" });
  const result = await consul.transaction.create([
    { KV: { Verb: "set", Key: "npmtxn/a", Value: b64("A") } },
    { KV: { Verb: "set", Key: "npmtxn/b", Value: b64("B"), Flags: 3 } },
    { KV: { Verb: "lock", Key: "npmtxn/l", Value: b64("L"), Session: sid } },
    { KV: { Verb: "get", Key: "npmtxn/a" } },
    { KV: { Verb: "get-tree", Key: "npmtxn/" } },
    { KV: { Verb: "check-session", Key: "npmtxn/l", Session: sid } },
    { KV: { Verb: "check-not-exists", Key: "npmtxn/none" } },
    { KV: { Verb: "delete", Key: "npmtxn/b" } },
  ]);
  assert.equal(result.Errors, null);
  const kvs = result.Results.map((r) => r.KV);
  assert.equal(kvs.length, 1 + 1 + 1 + 1 + 3 + 1 + 0 + 0, JSON.stringify(kvs));
  assert.equal(kvs[0].Value, null, "set answers without its value");
  assert.equal(kvs[2].Session, sid);
  assert.equal(kvs[2].LockIndex, 1);
  assert.equal(Buffer.from(kvs[3].Value, "base64").toString(), "A");
  assert.deepEqual(kvs.slice(4, 7).map((e) => e.Key), ["npmtxn/a", "npmtxn/b", "npmtxn/l"]);
  assert.equal(await consul.kv.get("npmtxn/b"), undefined);
  const a = await consul.kv.get("npmtxn/a");
  const cas = await consul.transaction.create([
    { KV: { Verb: "cas", Key: "npmtxn/a", Value: b64("A2"), Index: a.ModifyIndex } },
    { KV: { Verb: "check-index", Key: "npmtxn/a", Index: a.ModifyIndex + 1 } },
    { KV: { Verb: "unlock", Key: "npmtxn/l", Value: b64("L2"), Session: sid } },
    { KV: { Verb: "delete-tree", Key: "npmtxn/l" } },
  ]);
  assert.equal(cas.Errors, null);
  assert.equal((await consul.kv.get("npmtxn/a")).Value, "A2");
  assert.equal(await consul.kv.get("npmtxn/l"), undefined);
  await consul.session.destroy(sid);
}

async function test_txn_rollback_409({ consul }) {
  await consul.kv.set("npmtxn2/k", "before");
  const entry = await consul.kv.get("npmtxn2/k");
  const err = await consul.transaction
    .create([
      { KV: { Verb: "set", Key: "npmtxn2/k", Value: b64("after") } },
      { KV: { Verb: "cas", Key: "npmtxn2/k", Value: b64("x"), Index: entry.ModifyIndex } },
      { KV: { Verb: "get", Key: "npmtxn2/missing" } },
      { KV: { Verb: "delete-cas", Key: "npmtxn2/k", Index: 1 } },
    ])
    .then(() => assert.fail("txn should fail"), (e) => e);
  assert.equal(err.statusCode, 409, err.message);
  const body = err.response.body;
  assert.equal(body.Results, null);
  assert.deepEqual(body.Errors.map((e) => e.OpIndex), [1, 2, 3], JSON.stringify(body));
  assert.equal(body.Errors[0].What, 'failed to set key "npmtxn2/k", index is stale');
  assert.equal(body.Errors[1].What, 'key "npmtxn2/missing" doesn\'t exist');
  assert.equal((await consul.kv.get("npmtxn2/k")).Value, "before", "nothing applied");
}

async function test_txn_read_only_consistent({ consul, http }) {
  await consul.kv.set("npmtxn3/k", "v");
  const res = await raw(http, "PUT", "/v1/txn?consistent",
    JSON.stringify([{ KV: { Verb: "get", Key: "npmtxn3/k" } }]));
  assert.equal(res.status, 200, res.text);
  assert.equal(Buffer.from(res.json.Results[0].KV.Value, "base64").toString(), "v");
  assert.equal(res.headers.get("x-consul-knownleader"), "true");
}

// ---------------------------------------------------------------- blocking queries and watch

async function test_blocking_get_with_index({ consul }) {
  await consul.kv.set("npmblock/k", "before");
  const [res] = await consul.kv.get({ key: "npmblock/k", ctx: withResponse() });
  const index = res.headers["x-consul-index"];
  assert.ok(Number(index) > 0);
  setTimeout(() => consul.kv.set("npmblock/k", "after"), 300);
  const started = Date.now();
  const entry = await consul.kv.get({ key: "npmblock/k", index, wait: "5s" });
  const elapsed = Date.now() - started;
  assert.equal(entry.Value, "after");
  assert.ok(elapsed >= 250 && elapsed < 4500, `blocked ${elapsed} ms`);
  const idle = Date.now();
  const [res2] = await consul.kv.get({ key: "npmblock/k", ctx: withResponse() });
  await consul.kv.get({ key: "npmblock/k", index: res2.headers["x-consul-index"], wait: "1s" });
  assert.ok(Date.now() - idle >= 900, "a blocking query with no change waits for `wait`");
}

async function test_watch_kv({ consul }) {
  await consul.kv.set("npmwatch/k", "0");
  const watch = consul.watch({ method: consul.kv.get, options: { key: "npmwatch/k", wait: "5s" } });
  const seen = [];
  const errors = [];
  watch.on("change", (data) => seen.push(data && data.Value));
  watch.on("error", (e) => errors.push(e.message));
  try {
    const deadline = Date.now() + 5000;
    while (seen.length < 1 && Date.now() < deadline) await sleep(50);
    await consul.kv.set("npmwatch/k", "1");
    while (seen.length < 2 && Date.now() < deadline) await sleep(50);
    await consul.kv.set("npmwatch/k", "2");
    while (seen.length < 3 && Date.now() < deadline) await sleep(50);
  } finally {
    watch.end();
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(seen, ["0", "1", "2"]);
}

async function test_session_list_blocks({ consul }) {
  const [res] = await consul.session.list({ ctx: withResponse() });
  const index = res.headers["x-consul-index"];
  assert.ok(Number(index) > 0, "session list carries X-Consul-Index");
  // The list may wake before the create's own answer arrives: await both.
  const creating = sleep(300).then(() => consul.session.create());
  const list = await consul.session.list({ index, wait: "5s" });
  const created = (await creating).ID;
  assert.ok(list.some((s) => s.ID === created), JSON.stringify(list));
  await consul.session.destroy(created);
}

// ---------------------------------------------------------------- catalog and health

async function test_catalog_and_health_one_service({ consul }) {
  await consul.agent.service.register({ name: "npmweb", id: "npmweb1", port: 8080, tags: ["v1"],
    check: { ttl: "30s" } });
  const services = await consul.catalog.service.list();
  assert.deepEqual(services.npmweb, ["v1"]);
  const nodes = await consul.catalog.service.nodes("npmweb");
  assert.equal(nodes.length, 1);
  assert.equal(nodes[0].ServiceID, "npmweb1");
  assert.equal(nodes[0].ServicePort, 8080);
  assert.deepEqual(await consul.health.service({ service: "npmweb", passing: true }), []);
  await consul.agent.check.pass({ id: "service:npmweb1", note: "ok" });
  const healthy = await consul.health.service({ service: "npmweb", passing: true });
  assert.equal(healthy.length, 1);
  assert.equal(healthy[0].Service.ID, "npmweb1");
  const checks = await consul.health.checks("npmweb");
  assert.deepEqual(checks.map((c) => [c.CheckID, c.Status]), [["service:npmweb1", "passing"]]);
  await consul.agent.service.deregister("npmweb1");
  assert.deepEqual(await consul.catalog.service.nodes("npmweb"), []);
}

// ---------------------------------------------------------------- the 0.40 Lock helper

/** One 0.40 `consul.lock` round: acquire, hold `holdMs`, release; resolves [start, end]. */
function lockRound(legacy, key, holdMs, log) {
  return new Promise((resolve, reject) => {
    const lock = legacy.lock({ key, lockretrytime: "100ms", session: { lockdelay: "0s" } });
    let span;
    lock.on("acquire", () => {
      span = [Date.now()];
      setTimeout(() => { span.push(Date.now()); lock.release(); }, holdMs);
    });
    lock.on("error", (e) => { log.push(`error ${e.message}`); reject(e); });
    lock.on("end", () => (span && span.length === 2 ? resolve(span) : reject(new Error("lost"))));
    lock.acquire();
  });
}

async function test_legacy_lock_two_lockers_never_overlap({ http }) {
  const key = "npmlocks/leader";
  const log = [];
  const lockers = [0, 1].map(async () => {
    const legacy = new LegacyConsul({ host: IP, port: http });
    const spans = [];
    for (let round = 0; round < 4; round++) spans.push(await lockRound(legacy, key, 150, log));
    return spans;
  });
  const spans = (await Promise.all(lockers)).flat().sort((x, y) => x[0] - y[0]);
  assert.deepEqual(log, []);
  assert.equal(spans.length, 8);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i][0] >= spans[i - 1][1], `holds overlap: ${JSON.stringify(spans)}`);
  }
}

async function test_legacy_lock_lost_when_session_destroyed({ consul, http }) {
  const legacy = new LegacyConsul({ host: IP, port: http });
  const lock = legacy.lock({ key: "npmlocks/lost", session: { lockdelay: "0s" } });
  const events = [];
  const ended = new Promise((resolve) => lock.on("end", resolve));
  lock.on("acquire", () => events.push("acquire"));
  lock.on("release", () => events.push("release"));
  lock.on("error", (e) => events.push(`error ${e.message}`));
  lock.acquire();
  const deadline = Date.now() + 5000;
  while (!events.includes("acquire") && Date.now() < deadline) await sleep(50);
  const entry = await consul.kv.get("npmlocks/lost");
  assert.equal(entry.Flags, 3304740253564472344, "the Go lock flag, as a JSON number");
  await consul.session.destroy(entry.Session);
  await Promise.race([ended, sleep(5000)]);
  assert.deepEqual(events, ["acquire", "release"]);
}

// ---------------------------------------------------------------- main

const TESTS = [
  test_kv_set_get_del_recurse,
  test_kv_cas,
  test_session_create_info_list_node_renew_destroy,
  test_session_defaults,
  test_session_bad_input_is_400,
  test_kv_acquire_release,
  test_acquire_with_unknown_session_is_refused,
  test_behavior_delete_and_lock_delay,
  test_txn_commit,
  test_txn_rollback_409,
  test_txn_read_only_consistent,
  test_blocking_get_with_index,
  test_watch_kv,
  test_session_list_blocks,
  test_catalog_and_health_one_service,
  test_legacy_lock_two_lockers_never_overlap,
  test_legacy_lock_lost_when_session_destroyed,
];

async function main() {
  const only = process.argv.slice(2);
  const env = await startAgent();
  let failed = 0;
  try {
    for (const test of TESTS) {
      if (only.length && !only.some((name) => test.name.includes(name))) continue;
      try {
        await test(env);
        console.log(`ok   ${test.name}`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${test.name}: ${e.stack || e}`);
      }
    }
  } finally {
    env.consul.destroy();
    env.proc.kill("SIGTERM");
  }
  console.log(failed ? `${failed} of ${TESTS.length} failed (agent log: ${AGENT_LOG})` : "all passed");
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
