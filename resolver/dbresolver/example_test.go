package dbresolver_test

import (
	"log"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/resolver/dbresolver"
	"github.com/natsauth/natsauth/trust"
)

// Account JWTs in PostgreSQL, shared by every server of a cluster: a
// change stored by any of them (or by natsauth's CLI) is applied live by
// all.
func ExampleNew() {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	skp, _ := nkeys.CreateOperator() // operator signing key
	spub, _ := skp.PublicKey()
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "APP"
	accountJWT, err := ac.Encode(skp)
	if err != nil {
		log.Fatal(err)
	}
	oc := jwt.NewOperatorClaims(opub)
	oc.SigningKeys.Add(spub)

	dr, err := dbresolver.New("postgres://natsauth@127.0.0.1:5432/natsauth",
		resolver.Options{Policy: trust.FromOperators(oc)})
	if err != nil {
		log.Fatal(err)
	}
	defer dr.Close()
	if err := dr.Store(apub, accountJWT); err != nil {
		log.Fatal(err)
	}
	_ = &server.Options{TrustedOperators: []*jwt.OperatorClaims{oc}, AccountResolver: dr}
}
