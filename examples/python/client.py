"""The walkthrough's Python client (nats-py) against natsauth.

    pip install nats-py
    NATS_URL=nats://127.0.0.1:4222 NATS_CREDS=alice.creds python3 client.py

Subscribes to orders.alice.> (alice may), publishes to orders.alice.1 and
orders.new, prints what arrives, and exits. NOT RUN by the project's tests:
see README.md.
"""

import asyncio
import os

import nats


async def main():
    nc = await nats.connect(
        servers=[os.environ.get("NATS_URL", "nats://127.0.0.1:4222")],
        # The creds file holds alice's JWT and seed: nats-py signs the
        # server's nonce with the seed, the server checks the JWT chain.
        user_credentials=os.environ.get("NATS_CREDS", "alice.creds"),
    )

    received = asyncio.Queue()

    async def message_handler(msg):
        print(f"Received on {msg.subject}: {msg.data.decode()}")
        await received.put(msg)

    await nc.subscribe("orders.alice.>", cb=message_handler)
    await nc.flush()

    await nc.publish("orders.alice.1", b"Order #123")  # delivered to alice
    await nc.publish("orders.new", b"Order #124")  # allowed, not subscribed

    await asyncio.wait_for(received.get(), timeout=5)

    # Request-reply, if a responder runs (natsauth demo runs one).
    try:
        msg = await nc.request("orders.status", b"123", timeout=2)
        print(f"Status: {msg.data.decode()}")
    except nats.errors.NoRespondersError:
        print("no responder on orders.status")

    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
