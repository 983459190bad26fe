// Shared by the examples: connect to NATS_URL with the creds file NATS_CREDS.
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator } from "nats";

// connectWith connects with a creds file (a user JWT and its seed). The
// client signs the server's nonce with the seed; the server checks the JWT
// chain up to its trusted operator.
export async function connectWith(credsFile, name) {
  const opts = { servers: process.env.NATS_URL || "nats://127.0.0.1:4222", name };
  if (credsFile) {
    opts.authenticator = credsAuthenticator(readFileSync(credsFile));
  }
  return await connect(opts);
}

export function connectFromEnv(name) {
  return connectWith(process.env.NATS_CREDS, name);
}

// main runs an example and exits non-zero with the error on failure.
export function main(fn) {
  fn().catch((err) => {
    console.error(`${process.argv[1].split("/").pop()}: ${err.message || err}`);
    process.exit(1);
  });
}
