// A real Concord cluster for the browser tests: 3 servers (with -ui) and 2 client agents, each
// on its own loopback address like separate hosts, joined with `concord join`. Every port, data
// dir and log is printed; every agent is killed with SIGKILL when the process exits, however
// it ends.
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The agents' addresses: 127.0.78.1-3 are servers, 127.0.78.4 the client with the services
 * (killed at the end), 127.0.78.5 a client that leaves (no other test uses 127.0.78.x). */
export const SUBNET = process.env.CONCORD_UI_SUBNET || "127.0.78";
export const HTTP_PORT = 8500;
export const SERVER_PORT = 8300;
export const SERF_LAN_PORT = 8301;
export const DC = "dc1";

/** Election after three joins, the client's first sync. */
export const CLUSTER_UP_MS_MAX = 30000;
/** One HTTP call to an agent (a blocking query is never used here). */
export const HTTP_TIMEOUT_MS = 5000;
/** One `concord join` or `concord leave`. */
const CLI_TIMEOUT_MS = 10000;
const POLL_INTERVAL_MS = 100;

const BIN = path.resolve(process.env.CONCORD_BIN || "target/debug/concord");
const WORK_DIR = path.resolve(process.env.CONCORD_UI_WORK || "target/ui-cluster");
/** Optional: serve the UI assets from this folder (no rebuild while the UI changes). */
const UI_DIR = process.env.CONCORD_UI_DIR;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const running = [];
// The agents never outlive this script, however it ends.
process.on("exit", () => {
  for (const agent of running) agent.proc.kill("SIGKILL");
});

/** Retries `check` until it returns without throwing, at most `ms`; the error names `what`
 * and the last thing seen. */
export async function eventually(ms, what, check) {
  const deadline = Date.now() + ms;
  let last = "nothing yet";
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e.message;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not so within ${ms} ms; last seen: ${last}`);
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Raw HTTP to an agent: { status, headers, text, json }. */
export async function http(agent, method, pathAndQuery, body) {
  const url = `http://${agent.ip}:${HTTP_PORT}${pathAndQuery}`;
  const init = { method, redirect: "manual", signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (_) { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** HTTP that must answer 200; returns the answer. */
export async function ok(agent, method, pathAndQuery, body) {
  const answer = await http(agent, method, pathAndQuery, body);
  if (answer.status !== 200) {
    throw new Error(`${method} ${agent.name} ${pathAndQuery}: expected 200, got ${answer.status} ${answer.text}`);
  }
  return answer;
}

function startAgent(name, ip, extra) {
  const dataDir = path.join(WORK_DIR, name);
  const log = path.join(WORK_DIR, `${name}.log`);
  fs.mkdirSync(dataDir, { recursive: true });
  const args = ["agent", "-node", name, "-data-dir", dataDir, "-bind", ip, "-client", ip,
    "-dns-port", "-1", ...extra];
  if (UI_DIR && extra.includes("-ui")) args.push("-ui-dir", path.resolve(UI_DIR));
  const out = fs.openSync(log, "w");
  const proc = spawn(BIN, args, { stdio: ["ignore", out, out] });
  const agent = { name, ip, dataDir, log, proc, args };
  running.push(agent);
  console.log(`agent ${name}: http http://${ip}:${HTTP_PORT}, server ${ip}:${SERVER_PORT}, ` +
    `serf ${ip}:${SERF_LAN_PORT}, data dir ${dataDir}, log ${log}`);
  console.log(`  ${BIN} ${args.join(" ")}`);
  return agent;
}

/** Where every agent logs: printed with every failure. */
export function logPaths() {
  return running.map((a) => `${a.name}: ${a.log}`).join(", ");
}

/** kill -9, and waits for the process to be gone. */
export async function kill9(agent) {
  const exited = new Promise((r) => agent.proc.once("exit", r));
  agent.proc.kill("SIGKILL");
  await Promise.race([exited, sleep(HTTP_TIMEOUT_MS)]);
}

/** `concord COMMAND -http-addr=AGENT ARGS...`; rejects with its stderr. */
function concordCli(agent, command, ...rest) {
  const args = [command, `-http-addr=${agent.ip}:${HTTP_PORT}`, ...rest];
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { timeout: CLI_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`concord ${args.join(" ")}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

const concordJoin = (agent, target) => concordCli(agent, "join", target);
/** A graceful leave, as `concord leave` does it. */
export const concordLeave = (agent) => concordCli(agent, "leave");

async function waitUp(agent) {
  await eventually(CLUSTER_UP_MS_MAX, `${agent.name} answers HTTP (log ${agent.log})`, async () => {
    if (agent.proc.exitCode !== null) throw new Error(`exited with ${agent.proc.exitCode}`);
    // A local answer: needs no leader (the servers have none until all three joined).
    await ok(agent, "GET", "/v1/agent/members");
  });
}

/** Starts s1-s3, c1 and c2, joins them to s1, waits for a leader and five alive members. */
export async function startCluster() {
  fs.rmSync(WORK_DIR, { recursive: true, force: true });
  console.log(`work dir ${WORK_DIR} (data dirs and logs)`);
  const servers = [1, 2, 3].map((i) =>
    startAgent(`s${i}`, `${SUBNET}.${i}`, ["-server", "-bootstrap-expect", "3", "-ui"]));
  const client = startAgent("c1", `${SUBNET}.4`, []);
  const leaver = startAgent("c2", `${SUBNET}.5`, []);
  const all = [...servers, client, leaver];
  for (const agent of all) await waitUp(agent);
  for (const agent of all.slice(1)) await concordJoin(agent, servers[0].ip);
  await eventually(CLUSTER_UP_MS_MAX, "a Raft leader", async () => {
    const leader = (await ok(servers[0], "GET", "/v1/status/leader")).json;
    if (!leader) throw new Error("no leader yet");
  });
  await eventually(CLUSTER_UP_MS_MAX, "five alive members seen by s1", async () => {
    const members = (await ok(servers[0], "GET", "/v1/agent/members")).json;
    const alive = members.filter((m) => m.Status === 1).map((m) => m.Name).sort();
    if (alive.join() !== "c1,c2,s1,s2,s3") throw new Error(`alive: ${alive.join()}`);
  });
  return { servers, client, leaver, all };
}
