// Command jetstream stores orders in a stream and processes them with a
// durable consumer that acknowledges each one.
//
//	NATS_CREDS=admin.creds go run ./examples/go/jetstream -count 3
//
// It creates (or updates) stream ORDERS on orders.new, file storage; publishes
// -count orders and waits for the stream to acknowledge each; then fetches
// what durable consumer "order-processor" has not yet acknowledged,
// acknowledging each message. Run it twice: the second run processes only
// the second run's orders, because the consumer's acknowledgements are kept
// by the server. JetStream must be enabled for the account (natsauth
// add/edit account --js-disk-storage ...) and the user must be allowed to
// publish to $JS.API.> (admin is).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	count := flag.Int("count", 3, "orders to publish")
	prefix := flag.String("message", "Order", "message text; a number is appended")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *count, *prefix, *timeout); err != nil {
		log.SetFlags(0)
		log.Fatalf("jetstream: %v", err)
	}
}

func run(ctx context.Context, count int, prefix string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := connect("example-jetstream")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     "ORDERS",
		Subjects: []string{"orders.new"}, // not orders.>: orders.status requests are for the responder
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		// A JetStream API request the user may not publish goes unanswered;
		// the server's refusal arrives as the connection's last error.
		if le := nc.LastError(); le != nil {
			err = fmt.Errorf("%w (%v)", err, le)
		}
		return fmt.Errorf("create stream ORDERS: %w", err)
	}
	fmt.Println("stream ORDERS on orders.new")

	for i := 1; i <= count; i++ {
		ack, err := js.Publish(ctx, "orders.new", fmt.Appendf(nil, "%s #%d", prefix, i))
		if err != nil {
			return fmt.Errorf("publish to stream: %w", err)
		}
		fmt.Printf("stored %s #%d as message %d\n", prefix, i, ack.Sequence)
	}

	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "order-processor",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return fmt.Errorf("create consumer order-processor: %w", err)
	}
	processed := 0
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("consumer info: %w", err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		batch, err := cons.FetchNoWait(10)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			// DoubleAck waits for the server to confirm the ack.
			if err := m.DoubleAck(ctx); err != nil {
				return fmt.Errorf("ack message %d: %w", meta.Sequence.Stream, err)
			}
			processed++
			fmt.Printf("processed %q (message %d), acked\n", m.Data(), meta.Sequence.Stream)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	fmt.Printf("order-processor acked %d message(s), none pending\n", processed)
	return nil
}

// connect dials NATS_URL (default nats://127.0.0.1:4222) with the creds
// file NATS_CREDS, if set.
func connect(name string) (*nats.Conn, error) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	opts := []nats.Option{nats.Name(name)}
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}
