// Connect with creds and print what the server says about the connection.
//   NATS_URL=nats://127.0.0.1:4222 NATS_CREDS=alice.creds node connect.mjs
import { connectFromEnv, main } from "./lib.mjs";

main(async () => {
  const nc = await connectFromEnv("node-example-connect");
  await nc.flush(); // a round trip: the server accepted us
  const info = nc.info;
  console.log(`connected to ${nc.getServer()}`);
  console.log(`server ${info.server_name}, nats-server ${info.version}`);
  await nc.close();
});
