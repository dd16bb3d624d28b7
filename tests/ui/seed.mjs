// The data the pages must show, written through the public HTTP API: services with TTL checks
// on client c1 (passing, warning and critical ones), KV keys in folders, and a session holding
// a lock.
import { CLUSTER_UP_MS_MAX, eventually, ok } from "./cluster.mjs";

/** Long enough never to expire during a run; the expiry test registers its own short one. */
const TTL_LONG = "300s";

export const KV_SEED = {
  "app/config/db_url": "postgres://db.internal:5432/app",
  "app/config/timeout_ms": "2500",
  "app/feature-flags": '{"dark_mode":true}',
  "readme": "Keys written by the browser test",
};
export const LOCK_KEY = "locks/leader";

/** service name -> [ID, port, tags, check id, TTL status to set] */
export const SERVICES = {
  web: ["web-1", 8080, ["v1", "http"], "web-ttl", "pass"],
  api: ["api-1", 9090, ["v2", "grpc"], "api-ttl", "pass"],
  cache: ["cache-1", 6379, ["redis"], "cache-ttl", "warn"],
  payments: ["payments-1", 7070, ["v3"], "payments-ttl", "fail"],
};

async function registerServices(client) {
  for (const [name, [id, port, tags, checkId, status]] of Object.entries(SERVICES)) {
    await ok(client, "PUT", "/v1/agent/service/register", {
      ID: id, Name: name, Tags: tags, Address: client.ip, Port: port,
      Check: { CheckID: checkId, Name: `${name} TTL`, TTL: TTL_LONG },
    });
    await ok(client, "PUT", `/v1/agent/check/${status}/${checkId}?note=seeded+${status}`);
  }
}

async function writeKeys(server) {
  for (const [key, value] of Object.entries(KV_SEED)) {
    const answer = await ok(server, "PUT", `/v1/kv/${key}`, value);
    if (answer.text.trim() !== "true") throw new Error(`PUT /v1/kv/${key}: ${answer.text}`);
  }
}

/** A session on s1 (no TTL: it lives as long as s1) holding LOCK_KEY; returns its ID. */
async function holdLock(server) {
  const session = (await ok(server, "PUT", "/v1/session/create", { Name: "ui-lock-holder" })).json.ID;
  const acquired = await ok(server, "PUT", `/v1/kv/${LOCK_KEY}?acquire=${session}`, server.name);
  if (acquired.text.trim() !== "true") throw new Error(`acquire ${LOCK_KEY}: ${acquired.text}`);
  return session;
}

/** Seeds everything and waits until s1's catalog shows the client's checks as set. */
export async function seed({ servers, client }) {
  await registerServices(client);
  await writeKeys(servers[0]);
  const session = await holdLock(servers[0]);
  await eventually(CLUSTER_UP_MS_MAX, "the client's checks in s1's catalog", async () => {
    const checks = (await ok(servers[0], "GET", "/v1/health/node/c1")).json;
    const states = Object.fromEntries(checks.map((c) => [c.CheckID, c.Status]));
    const want = { "serfHealth": "passing", "web-ttl": "passing", "api-ttl": "passing", "cache-ttl": "warning",
      "payments-ttl": "critical" };
    for (const [id, status] of Object.entries(want)) {
      if (states[id] !== status) throw new Error(JSON.stringify(states));
    }
  });
  console.log(`seeded: services ${Object.keys(SERVICES).join(", ")} on c1; ` +
    `${Object.keys(KV_SEED).length} keys; session ${session} holds ${LOCK_KEY}`);
  return { session };
}
