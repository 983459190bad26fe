package manage_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
)

// A Go program changes the authority through the core, as the CLI does:
// validated, audited with its actor, published to every store the home's
// servers read and applied by every running natsauth serve of the home.
func Example() {
	dir, err := os.MkdirTemp("", "natsauth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := audit.WithActor(context.Background(), audit.Actor{Via: "my-tool"})

	m, _, err := manage.Init(ctx, manage.Config{Home: dir}, "MyOperator")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	acc, res, err := m.AddAccount(ctx, "MyAccount", authority.AccountEdit{Conns: authority.Int64(100)})
	if err != nil {
		log.Fatal(err) // a *manage.PublishError: saved in the home, not on every server
	}
	fmt.Println("added", acc.Name, "with max connections", acc.Claims.Limits.Conn)
	for _, d := range res.Deliveries {
		fmt.Println("published", d.Account, d.Change)
	}
	entries, _ := m.Audit(ctx, audit.Query{Account: "MyAccount"})
	fmt.Println("audited:", entries[0].Action, "via", entries[0].Via)
	// Output:
	// added MyAccount with max connections 100
	// published MyAccount created
	// audited: add account via my-tool
}
