package authority_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/natsauth/natsauth/authority"
)

// A home with an operator, an account with limits and a user with
// permissions, as in the classic JWT walkthrough.
func Example() {
	dir, err := os.MkdirTemp("", "natsauth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	h, err := authority.Init(filepath.Join(dir, "home"), "MyOperator")
	if err != nil {
		log.Fatal(err)
	}
	acc, err := h.AddAccount("MyAccount", authority.AccountEdit{
		Conns:   authority.Int64(1000),
		Payload: authority.Int64(1_000_000),
	})
	if err != nil {
		log.Fatal(err)
	}
	alice, err := h.AddUser("MyAccount", "alice", authority.UserEdit{
		AllowPub: []string{"orders.>"},
		AllowSub: []string{"orders.alice.>"},
		RespMax:  new(int(1)),
	})
	if err != nil {
		log.Fatal(err)
	}
	creds, err := h.Creds("MyAccount", "alice")
	if err != nil {
		log.Fatal(err)
	}
	_, err = h.AddUser("MyAccount", "bad", authority.UserEdit{AllowPub: []string{"orders..x"}})

	fmt.Println("account signed by the operator signing key:", acc.Claims.Issuer == h.Operator().SigningKeys[0])
	fmt.Println("max connections:", acc.Claims.Limits.Conn)
	fmt.Println("alice may publish to:", alice.Claims.Permissions.Pub.Allow)
	fmt.Println("creds:", strings.SplitN(string(creds), "\n", 2)[0])
	fmt.Println(strings.TrimPrefix(err.Error(), "add user "))
	// Output:
	// account signed by the operator signing key: true
	// max connections: 1000
	// alice may publish to: [orders.>]
	// creds: -----BEGIN NATS USER JWT-----
	// bad: allow-pub: subject "orders..x" has an empty token (a leading, trailing or doubled '.')
}
