// Node.js client interop check for natsauth serve, run by the Go test
// cmd/natsauth TestNodeClientAgainstServe (which sets the environment):
//
//   NATS_URL           the server, e.g. nats://127.0.0.1:4222
//   NATS_CREDS         creds of a user allowed to publish and subscribe
//                      ALLOWED_SUBJECT and denied DENIED_PUB / DENIED_SUB
//   NATS_REFUSED_CREDS creds of a user the server must refuse (revoked)
//
// It prints one "ok: ..." line per check and exits 0, or prints
// "FAIL: ..." and exits 1.
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, Events, ErrorCode, StringCodec } from "nats";

const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
};

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

// within rejects after ms with what, so a missing event fails instead of
// hanging.
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const url = env("NATS_URL");
const allowed = env("ALLOWED_SUBJECT");
const deniedPub = env("DENIED_PUB");
const deniedSub = env("DENIED_SUB");
const sc = StringCodec();

async function main() {
  const nc = await connect({
    servers: url,
    authenticator: credsAuthenticator(readFileSync(env("NATS_CREDS"))),
    maxReconnectAttempts: 0,
    name: "natsauth node interop",
  });
  console.log(`ok: connected with creds to ${nc.info?.server_name ?? url}`);

  // Publish and receive on an allowed subject.
  const sub = nc.subscribe(allowed, { max: 1 });
  nc.publish(allowed, sc.encode("hello from node"));
  const got = await within(5000, `a message on ${allowed}`, (async () => {
    for await (const m of sub) return sc.decode(m.data);
  })());
  if (got !== "hello from node") fail(`received ${JSON.stringify(got)} on ${allowed}`);
  console.log(`ok: published and received on ${allowed}`);

  // Publishing to a denied subject: the server answers with a permissions
  // violation, reported as a status event.
  const statuses = nc.status();
  const violation = within(5000, `a permissions violation for publishing to ${deniedPub}`, (async () => {
    for await (const s of statuses) {
      if (s.type === Events.Error && s.data === ErrorCode.PermissionsViolation &&
        s.permissionContext?.operation === "publish" && s.permissionContext?.subject === deniedPub) {
        return s;
      }
    }
  })());
  nc.publish(deniedPub, sc.encode("must be refused"));
  await violation;
  console.log(`ok: publish to ${deniedPub} refused: permissions violation`);

  // Subscribing to a denied subject: the subscription ends with the error.
  const denied = nc.subscribe(deniedSub);
  const subErr = await within(5000, `a permissions violation for subscribing to ${deniedSub}`, (async () => {
    try {
      for await (const _ of denied) { /* nothing may arrive */ }
    } catch (err) {
      return err;
    }
    return null;
  })());
  if (!subErr || subErr.code !== ErrorCode.PermissionsViolation) {
    fail(`subscribe to ${deniedSub}: got ${subErr}, want a permissions violation`);
  }
  console.log(`ok: subscribe to ${deniedSub} refused: permissions violation`);

  // The connection survives the refusals.
  const again = nc.subscribe(allowed, { max: 1 });
  nc.publish(allowed, sc.encode("still here"));
  const got2 = await within(5000, `a second message on ${allowed}`, (async () => {
    for await (const m of again) return sc.decode(m.data);
  })());
  if (got2 !== "still here") fail(`received ${JSON.stringify(got2)} on ${allowed} after the refusals`);
  console.log("ok: the connection still works after the refusals");
  await nc.drain();

  // A revoked user is refused at connect.
  try {
    const bad = await connect({
      servers: url,
      authenticator: credsAuthenticator(readFileSync(env("NATS_REFUSED_CREDS"))),
      maxReconnectAttempts: 0,
      reconnect: false,
    });
    await bad.close();
    fail("the revoked user connected");
  } catch (err) {
    if (err.code !== ErrorCode.AuthorizationViolation) {
      fail(`revoked user: got ${err.code ?? err}, want ${ErrorCode.AuthorizationViolation}`);
    }
  }
  console.log("ok: revoked user refused: authorization violation");
  console.log("node client interop: all checks passed");
}

main().catch((err) => fail(err?.stack ?? String(err)));
