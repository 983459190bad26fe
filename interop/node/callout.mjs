// Node.js client check for natsauth's identity gateway (auth callout), run
// by the Go test callout TestNodeClientThroughCallout, which sets:
//
//   NATS_URL      the server, e.g. nats://127.0.0.1:4222
//   NATS_TOKEN    an OIDC token the gateway accepts
//   BAD_TOKEN     an OIDC token it refuses (wrong audience)
//   NATS_USER, NATS_PASS  a password user it accepts
//   ALLOWED       a subject the token's rule lets the client publish and subscribe
//   DENIED        a subject it may not publish to
//
// It prints one "ok: ..." line per check and exits 0, or "FAIL: ..." and 1.
import { connect, Events, ErrorCode, StringCodec } from "nats";

const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
};

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const url = env("NATS_URL");
const allowed = env("ALLOWED");
const denied = env("DENIED");
const sc = StringCodec();

async function refused(what, opts) {
  try {
    const nc = await connect({ servers: url, maxReconnectAttempts: 0, reconnect: false, ...opts });
    await nc.close();
    fail(`${what}: connected, want refused`);
  } catch (err) {
    if (err.code !== ErrorCode.AuthorizationViolation) {
      fail(`${what}: got ${err.code ?? err}, want ${ErrorCode.AuthorizationViolation}`);
    }
  }
  console.log(`ok: ${what} refused: authorization violation`);
}

async function main() {
  // An OIDC token as the connect token.
  const nc = await connect({ servers: url, token: env("NATS_TOKEN"), maxReconnectAttempts: 0, name: "node callout" });
  console.log("ok: connected with an OIDC token");
  const sub = nc.subscribe(allowed, { max: 1 });
  nc.publish(allowed, sc.encode("hello through the callout"));
  const got = await within(5000, `a message on ${allowed}`, (async () => {
    for await (const m of sub) return sc.decode(m.data);
  })());
  if (got !== "hello through the callout") fail(`received ${JSON.stringify(got)} on ${allowed}`);
  console.log(`ok: the templated permission lets it publish and receive on ${allowed}`);

  const statuses = nc.status();
  const violation = within(5000, `a permissions violation for publishing to ${denied}`, (async () => {
    for await (const s of statuses) {
      if (s.type === Events.Error && s.data === ErrorCode.PermissionsViolation &&
        s.permissionContext?.operation === "publish" && s.permissionContext?.subject === denied) {
        return s;
      }
    }
  })());
  nc.publish(denied, sc.encode("must be refused"));
  await violation;
  console.log(`ok: publish to ${denied} refused: permissions violation`);
  await nc.drain();

  // A password user.
  const pc = await connect({ servers: url, user: env("NATS_USER"), pass: env("NATS_PASS"), maxReconnectAttempts: 0 });
  console.log("ok: connected as a password user");
  await pc.drain();

  await refused("a token for another audience", { token: env("BAD_TOKEN") });
  await refused("a wrong password", { user: env("NATS_USER"), pass: "not-the-password" });
  console.log("node callout client: all checks passed");
}

main().catch((err) => fail(err?.stack ?? String(err)));
