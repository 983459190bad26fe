// Command responder answers requests on a subject (the server side of
// request-reply) until interrupted.
//
//	NATS_CREDS=responder.creds go run ./examples/go/responder
//
// The responder user may subscribe to orders.status and publish only
// responses (--allow-pub-response, --response-ttl 5s): it can answer a
// request it received, within 5s, once, and publish nothing else.
// With -queue, several responders share the load (a queue group).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
)

func main() {
	subject := flag.String("subject", "orders.status", "subject to answer on")
	queue := flag.String("queue", "", "queue group to share requests with other responders")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *subject, *queue); err != nil {
		log.SetFlags(0)
		log.Fatalf("responder: %v", err)
	}
}

func run(ctx context.Context, subject, queue string) error {
	closed := make(chan struct{})
	nc, err := connect("example-responder", nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		return err
	}
	defer nc.Close()
	n := 0
	_, err = nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
		n++ // callbacks of one subscription run one at a time
		status := getOrderStatus(string(m.Data))
		fmt.Printf("request %d: %s -> %s\n", n, m.Data, status)
		if err := m.Respond([]byte(status)); err != nil {
			fmt.Fprintf(os.Stderr, "respond: %v\n", err)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := nc.LastError(); err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	fmt.Printf("answering requests on %s\n", subject)
	<-ctx.Done()
	// Drain: answer what has arrived, then close.
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	<-closed
	fmt.Println("stopped")
	return nil
}

func getOrderStatus(id string) string { return "order " + id + ": shipped" }

// connect dials NATS_URL (default nats://127.0.0.1:4222) with the creds
// file NATS_CREDS, if set.
func connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	opts := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1)}, extra...)
	if creds := os.Getenv("NATS_CREDS"); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}
