// Queue group workers: each order goes to exactly one worker.
//   NATS_CREDS=admin.creds node queue.mjs
import { StringCodec } from "nats";
import { connectFromEnv, main } from "./lib.mjs";

const sc = StringCodec();
const WORKERS = 3;
const ORDERS = 9;

main(async () => {
  const conns = [];
  const processed = new Map(); // order -> times
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  for (let w = 1; w <= WORKERS; w++) {
    const nc = await connectFromEnv(`node-example-worker-${w}`);
    conns.push(nc);
    nc.subscribe("orders.process", {
      queue: "workers",
      callback: (err, m) => {
        if (err) return;
        const order = sc.decode(m.data);
        processed.set(order, (processed.get(order) || 0) + 1);
        console.log(`worker ${w} processed ${order}`);
        if (processed.size === ORDERS) resolveDone();
      },
    });
    await nc.flush();
  }
  console.log(`${WORKERS} workers in queue group "workers" on orders.process`);
  const pub = await connectFromEnv("node-example-queue-publisher");
  for (let i = 1; i <= ORDERS; i++) pub.publish("orders.process", sc.encode(`order-${i}`));
  await pub.flush();
  const timeout = setTimeout(() => {
    console.error(`only ${processed.size} of ${ORDERS} orders processed`);
    process.exit(1);
  }, 10000);
  await done;
  clearTimeout(timeout);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate would show up now
  const dups = [...processed].filter(([, n]) => n !== 1);
  if (dups.length > 0) throw new Error(`processed more than once: ${dups.map(([o]) => o).join(", ")}`);
  console.log(`${ORDERS} orders processed, each exactly once`);
  await pub.close();
  for (const nc of conns) await nc.close();
});
