package httpstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/trust"

	_ "github.com/natsauth/natsauth/store/backends"
)

// Read account JWTs from an account server by URL, like any other store.
func Example() {
	ctx := context.Background()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	opJWT, _ := jwt.NewOperatorClaims(opub).Encode(okp)
	policy, _ := trust.FromOperatorJWTs(opJWT)
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	accJWT, _ := jwt.NewAccountClaims(apub).Encode(okp)

	// Somewhere, an account server over its own store.
	backing := store.Wrap(mem.New(), store.Options{Policy: policy})
	defer backing.Close()
	_, _ = backing.Put(ctx, apub, accJWT)
	as := accountserver.New(backing, accountserver.Options{})
	defer as.Close()
	ts := httptest.NewServer(as)
	defer ts.Close()

	st, err := store.Open(ctx, ts.URL+"/jwt/v1/accounts/?timeout=2s", store.Options{Policy: policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	rec, err := st.Get(ctx, apub)
	fmt.Println(rec.JWT == accJWT, err)
	_, err = st.Put(ctx, apub, accJWT)
	fmt.Println(errors.Is(err, store.ErrReadOnly))
	// Output:
	// true <nil>
	// true
}
