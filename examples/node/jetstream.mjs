// JetStream: a stream, a durable consumer and acknowledgements.
//   NATS_CREDS=admin.creds node jetstream.mjs [count] [message]
// Run it twice: the durable consumer "order-processor" remembers what it
// acknowledged, so the second run processes only the second run's orders.
import { AckPolicy, StorageType, StringCodec } from "nats";
import { connectFromEnv, main } from "./lib.mjs";

const sc = StringCodec();
const count = Number(process.argv[2] || 3);
const prefix = process.argv[3] || "Order";

main(async () => {
  const nc = await connectFromEnv("node-example-jetstream");
  const jsm = await nc.jetstreamManager();
  const cfg = { name: "ORDERS", subjects: ["orders.new"], storage: StorageType.File };
  try {
    await jsm.streams.info("ORDERS");
    await jsm.streams.update("ORDERS", cfg);
  } catch (err) {
    if (err.code !== "404") throw err;
    await jsm.streams.add(cfg);
  }
  console.log("stream ORDERS on orders.new");

  const js = nc.jetstream();
  for (let i = 1; i <= count; i++) {
    const ack = await js.publish("orders.new", sc.encode(`${prefix} #${i}`));
    console.log(`stored ${prefix} #${i} as message ${ack.seq}`);
  }

  await jsm.consumers.add("ORDERS", { durable_name: "order-processor", ack_policy: AckPolicy.Explicit });
  const consumer = await js.consumers.get("ORDERS", "order-processor");
  let processed = 0;
  for (;;) {
    const info = await consumer.info();
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    const m = await consumer.next({ expires: 2000 });
    if (m === null) continue;
    await m.ackAck(); // waits for the server to confirm the ack
    processed++;
    console.log(`processed "${sc.decode(m.data)}" (message ${m.seq}), acked`);
  }
  console.log(`order-processor acked ${processed} message(s), none pending`);
  await nc.close();
});
