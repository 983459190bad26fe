package node_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/node"

	_ "github.com/natsauth/natsauth/store/backends"
)

// Embed a node that serves a home, as natsauth serve does: operator, system
// account and accounts from the home, account JWTs from its SQLite store,
// every change made to the home applied live.
func ExampleFromHome() {
	dir, err := os.MkdirTemp("", "natsauth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	h, err := authority.Init(dir, "MyOperator")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := h.AddAccount("MyAccount", authority.AccountEdit{}); err != nil {
		log.Fatal(err)
	}
	if _, err := h.AddUser("MyAccount", "alice", authority.UserEdit{AllowPubSub: []string{"orders.>"}}); err != nil {
		log.Fatal(err)
	}

	cfg, err := node.FromHome(h)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Flags = node.ServerFlags{Host: "127.0.0.1", Port: -1}
	ctx := context.Background()
	n, err := node.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}

	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(h.CredsPath("MyAccount", "alice")))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Println("alice connected; store:", n.StoreURL() == "sqlite://"+dir+"/accounts.db")
	// Output: alice connected; store: true
}
