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

// Sharing a private service between accounts: the exporter adds the
// export and signs an activation token for the importer, which imports the
// service under a local subject. An import nothing exports is refused
// before anything is written.
func ExampleHome_AddImport() {
	dir, err := os.MkdirTemp("", "natsauth-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	h, err := authority.Init(filepath.Join(dir, "home"), "MyOperator")
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"Orders", "Shop"} {
		if _, err := h.AddAccount(name, authority.AccountEdit{}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := h.AddExport("Orders", authority.ExportSpec{Subject: "orders.status.*", Service: true, Private: true}); err != nil {
		log.Fatal(err)
	}
	act, err := h.GenerateActivation("Orders", authority.ActivationSpec{Target: "Shop", Subject: "orders.status.*"})
	if err != nil {
		log.Fatal(err)
	}
	shop, err := h.AddImport("Shop", authority.ImportSpec{Token: act.Token, LocalSubject: "status.*"})
	if err != nil {
		log.Fatal(err)
	}
	im := shop.Claims.Imports[0]
	fmt.Printf("Shop imports %s %q as %q\n", im.Type, im.Subject, im.LocalSubject)

	_, err = h.AddImport("Shop", authority.ImportSpec{Account: "Orders", Subject: "orders.cancel", Service: true})
	fmt.Println(strings.TrimPrefix(err.Error(), "add import orders.cancel to account Shop: "))
	// Output:
	// Shop imports service "orders.status.*" as "status.*"
	// account Orders has no service export covering "orders.cancel" (its service exports: "orders.status.*")
}
