// Command connect connects to NATS with a creds file and prints what the
// server says about the connection.
//
//	NATS_URL=nats://127.0.0.1:4222 NATS_CREDS=alice.creds go run ./examples/go/connect
//
// A creds file holds the user's JWT (signed by its account) and its seed:
// the client proves it holds the seed by signing the server's nonce, and the
// server checks the JWT chain up to the trusted operator. Keep it 0600.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go"
)

func main() {
	if err := run(); err != nil {
		log.SetFlags(0)
		log.Fatalf("connect: %v", err)
	}
}

func run() error {
	nc, err := connect("example-connect")
	if err != nil {
		return err
	}
	defer nc.Close()
	// A round trip proves the server accepted us (permissions, limits).
	if err := nc.Flush(); err != nil {
		return err
	}
	fmt.Printf("connected to %s\n", nc.ConnectedUrlRedacted())
	fmt.Printf("server %s, nats-server %s\n", nc.ConnectedServerName(), nc.ConnectedServerVersion())
	fmt.Printf("max payload %d bytes\n", nc.MaxPayload())
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
