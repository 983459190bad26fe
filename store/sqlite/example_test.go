package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
	"github.com/natsauth/natsauth/trust"
)

// Open the embedded default store by URL and store an account JWT signed by
// the trusted operator.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "natsauth-example")
	defer os.RemoveAll(dir)

	okp, _ := nkeys.CreateOperator()
	opPub, _ := okp.PublicKey()
	policy := trust.FromOperators(jwt.NewOperatorClaims(opPub))

	s, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "accounts.db"), store.Options{Policy: policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	akp, _ := nkeys.CreateAccount()
	accPub, _ := akp.PublicKey()
	token, _ := jwt.NewAccountClaims(accPub).Encode(okp)

	change, err := s.Put(ctx, accPub, token)
	fmt.Println(change, err)
	change, err = s.Put(ctx, accPub, token)
	fmt.Println(change, err)
	rec, err := s.Get(ctx, accPub)
	fmt.Println(rec.JWT == token, rec.Issuer == opPub, err)
	// Output:
	// created <nil>
	// unchanged <nil>
	// true true <nil>
}
