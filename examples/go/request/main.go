// Command request sends a request and prints the reply (request-reply).
//
//	NATS_CREDS=alice.creds go run ./examples/go/request orders.status 123
//
// Run examples/go/responder first, or get "no responders": NATS tells a
// requester at once when nobody subscribes to the subject.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	timeout := flag.Duration("timeout", 2*time.Second, "how long to wait for the reply")
	flag.Parse()
	subject, data := "orders.status", "123"
	if flag.NArg() > 0 {
		subject = flag.Arg(0)
	}
	if flag.NArg() > 1 {
		data = strings.Join(flag.Args()[1:], " ")
	}
	if err := run(subject, data, *timeout); err != nil {
		log.SetFlags(0)
		log.Fatalf("request: %v", err)
	}
}

func run(subject, data string, timeout time.Duration) error {
	nc, err := connect("example-request")
	if err != nil {
		return err
	}
	defer nc.Close()
	msg, err := nc.Request(subject, []byte(data), timeout)
	if err != nil {
		return fmt.Errorf("request %s: %w", subject, err)
	}
	fmt.Printf("Status: %s\n", msg.Data)
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
