package claims_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/claims"
)

// Push an account JWT to every server of a cluster (natsauth nodes or
// stock full resolvers) and print each server's answer.
func ExampleClient_Update() {
	nc, err := nats.Connect("nats://127.0.0.1:4222", nats.UserCredentials("sys.creds"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	accountJWT := "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ..." // from the authority
	replies, err := claims.NewClient(nc, 2*time.Second).Update(context.Background(), accountJWT)
	for _, r := range replies {
		fmt.Printf("%s: ok=%v %s\n", r.Server, r.OK(), r.Message)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// An account server can be named by its root, its API base or the
// accounts URL a nats-server resolver uses.
func ExampleNewAccountServer() {
	for _, u := range []string{"http://127.0.0.1:9090", "http://127.0.0.1:9090/jwt/v1/accounts/"} {
		as, err := claims.NewAccountServer(u, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(as.URL())
	}
	// Output:
	// http://127.0.0.1:9090/jwt/v1
	// http://127.0.0.1:9090/jwt/v1
}
