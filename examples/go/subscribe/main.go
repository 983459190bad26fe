// Command subscribe receives messages on subjects with wildcards.
//
//	NATS_CREDS=alice.creds go run ./examples/go/subscribe 'orders.alice.>'
//	NATS_CREDS=admin.creds go run ./examples/go/subscribe 'orders.*.status' 'inventory.>'
//
// `*` matches one token (orders.*.status: orders.42.status), `>` one or more
// trailing tokens (orders.alice.>: orders.alice.1, orders.alice.a.b). A
// subject the user may not subscribe to is refused by the server; Flush
// makes the refusal known before this program says it is listening.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
)

func main() {
	count := flag.Int("count", 0, "exit after this many messages (0: until interrupted)")
	flag.Parse()
	subjects := flag.Args()
	if len(subjects) == 0 {
		subjects = []string{"orders.alice.>"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, subjects, *count); err != nil {
		log.SetFlags(0)
		log.Fatalf("subscribe: %v", err)
	}
}

func run(ctx context.Context, subjects []string, count int) error {
	nc, err := connect("example-subscribe")
	if err != nil {
		return err
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 64)
	for _, s := range subjects {
		if _, err := nc.ChanSubscribe(s, msgs); err != nil {
			return fmt.Errorf("subscribe to %s: %w", s, err)
		}
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := nc.LastError(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", strings.Join(subjects, ", "), err)
	}
	fmt.Printf("listening on %s\n", strings.Join(subjects, ", "))
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			fmt.Printf("received %d message(s)\n", n)
			return nil
		case m := <-msgs:
			fmt.Printf("received on %s: %s\n", m.Subject, m.Data)
		}
	}
	fmt.Printf("received %d message(s)\n", count)
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
