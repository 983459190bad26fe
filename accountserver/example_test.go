package accountserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/trust"
)

// Serve a store to nats-server's URL resolver: the handler is all it takes.
// Mount it at the root; point servers at
// resolver: URL(<base>/jwt/v1/accounts/).
func Example() {
	// An operator and one account it signs (normally from the home).
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	opJWT, _ := jwt.NewOperatorClaims(opub).Encode(okp)
	policy, _ := trust.FromOperatorJWTs(opJWT)
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	accJWT, _ := jwt.NewAccountClaims(apub).Encode(okp)

	st := store.Wrap(mem.New(), store.Options{Policy: policy})
	defer st.Close()
	as := accountserver.New(st, accountserver.Options{OperatorJWT: opJWT, Policy: policy})
	defer as.Close()
	ts := httptest.NewServer(as)
	defer ts.Close()
	base := ts.URL + "/jwt/v1/accounts/"

	// nsc push: POST the account JWT.
	resp, _ := http.Post(base+apub, "application/text", strings.NewReader(accJWT))
	resp.Body.Close()
	fmt.Println("push:", resp.Status)

	// nats-server's URL resolver: GET it back.
	resp, _ = http.Get(base + apub)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("fetch:", resp.Status, resp.Header.Get("Content-Type"), string(body) == accJWT)

	rec, _ := st.Get(context.Background(), apub)
	fmt.Println("stored:", rec.JWT == accJWT)
	// Output:
	// push: 200 OK
	// fetch: 200 OK application/jwt true
	// stored: true
}
