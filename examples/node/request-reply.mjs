// Request-reply: a responder answers orders.status, a requester asks.
//   NATS_CREDS=alice.creds RESPONDER_CREDS=responder.creds node request-reply.mjs
// The responder user may only subscribe to orders.status and publish
// responses (allow-pub-response); alice may request.
import { StringCodec } from "nats";
import { connectWith, connectFromEnv, main } from "./lib.mjs";

const sc = StringCodec();

main(async () => {
  const responder = await connectWith(process.env.RESPONDER_CREDS || process.env.NATS_CREDS, "node-example-responder");
  const sub = responder.subscribe("orders.status", {
    callback: (err, m) => {
      if (err) {
        console.error(`responder: ${err.message}`);
        return;
      }
      m.respond(sc.encode(`order ${sc.decode(m.data)}: shipped`));
    },
  });
  await responder.flush();
  console.log("answering requests on orders.status");

  const nc = await connectFromEnv("node-example-request");
  for (const id of ["123", "124"]) {
    const msg = await nc.request("orders.status", sc.encode(id), { timeout: 2000 });
    console.log(`Status: ${sc.decode(msg.data)}`);
  }
  sub.unsubscribe();
  await responder.drain();
  await nc.close();
});
