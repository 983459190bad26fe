// Command publish publishes messages to a subject.
//
//	NATS_CREDS=alice.creds go run ./examples/go/publish -subject orders.new "Order #123"
//	NATS_CREDS=alice.creds go run ./examples/go/publish -count 0 -interval 1s   # forever
//
// Publishing is fire-and-forget: a subject the user may not publish to is
// refused by the server asynchronously. Flush waits for the server, so the
// refusal is known (nc.LastError) before this program says it published.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	subject := flag.String("subject", "orders.new", "subject to publish to")
	count := flag.Int("count", 1, "messages to publish (0: until interrupted)")
	interval := flag.Duration("interval", 0, "pause between messages")
	flag.Parse()
	msg := "Order #123"
	if flag.NArg() > 0 {
		msg = strings.Join(flag.Args(), " ")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *subject, msg, *count, *interval); err != nil {
		log.SetFlags(0)
		log.Fatalf("publish: %v", err)
	}
}

func run(ctx context.Context, subject, msg string, count int, interval time.Duration) error {
	nc, err := connect("example-publish")
	if err != nil {
		return err
	}
	defer nc.Close()
	sent := 0
	for i := 1; count == 0 || i <= count; i++ {
		data := msg
		if count != 1 {
			data = msg + " #" + strconv.Itoa(i)
		}
		if err := nc.Publish(subject, []byte(data)); err != nil {
			return fmt.Errorf("publish to %s: %w", subject, err)
		}
		if count == 0 || interval > 0 {
			// Report each message as it is confirmed.
			if err := confirm(nc, subject); err != nil {
				return err
			}
			fmt.Printf("published %q to %s\n", data, subject)
		}
		sent++
		if interval > 0 && (count == 0 || i < count) {
			select {
			case <-ctx.Done():
				fmt.Printf("published %d message(s) to %s\n", sent, subject)
				return nil
			case <-time.After(interval):
			}
		}
	}
	if err := confirm(nc, subject); err != nil {
		return err
	}
	fmt.Printf("published %d message(s) to %s\n", sent, subject)
	return nil
}

// confirm waits for the server to have processed what was sent and reports
// a refusal (permissions violation, payload too large).
func confirm(nc *nats.Conn, subject string) error {
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := nc.LastError(); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

// connect dials NATS_URL (default nats://127.0.0.1:4222) with the creds
// file NATS_CREDS, if set.
func connect(name string) (*nats.Conn, error) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}
