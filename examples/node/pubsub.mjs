// Publish and subscribe with wildcards.
//   NATS_CREDS=alice.creds node pubsub.mjs
// alice may publish orders.> and subscribe orders.alice.>: she receives
// what is published to orders.alice.<anything>, not orders.bob.1.
import { StringCodec } from "nats";
import { connectFromEnv, main } from "./lib.mjs";

const sc = StringCodec();

main(async () => {
  const nc = await connectFromEnv("node-example-pubsub");
  const sub = nc.subscribe("orders.alice.>", { max: 2 });
  const received = (async () => {
    for await (const m of sub) {
      console.log(`received on ${m.subject}: ${sc.decode(m.data)}`);
    }
  })();
  await nc.flush(); // the subscription is known to the server
  console.log("listening on orders.alice.>");
  nc.publish("orders.bob.1", sc.encode("not for alice"));
  nc.publish("orders.alice.1", sc.encode("Order #123"));
  nc.publish("orders.alice.eu.2", sc.encode("Order #124"));
  await received;
  console.log(`received ${sub.getProcessed()} message(s)`);
  await nc.close();
});
