package resolver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/trust"
)

// authority is a minimal operator with a system account and one account,
// built inline with jwt and nkeys (natsauth's CLI does this for real).
type authority struct {
	operator   *jwt.OperatorClaims
	sysPub     string
	sysJWT     string
	sysKP      nkeys.KeyPair
	accountPub string
	accountJWT string
	accountKP  nkeys.KeyPair
}

func newAuthority() *authority {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	skp, _ := nkeys.CreateOperator() // operator signing key
	spub, _ := skp.PublicKey()
	account := func(name string) (string, string, nkeys.KeyPair) {
		akp, _ := nkeys.CreateAccount()
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		tok, err := ac.Encode(skp)
		if err != nil {
			log.Fatal(err)
		}
		return apub, tok, akp
	}
	a := &authority{}
	a.sysPub, a.sysJWT, a.sysKP = account("SYS")
	a.accountPub, a.accountJWT, a.accountKP = account("APP")
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "ACME"
	oc.SigningKeys.Add(spub)
	oc.SystemAccount = a.sysPub
	if _, err := oc.Encode(okp); err != nil {
		log.Fatal(err)
	}
	a.operator = oc
	return a
}

// user returns connect options for a new user of the account.
func (a *authority) user() nats.Option { return userOf(a.accountKP) }

// userOf returns connect options for a new user signed by account key akp.
func userOf(akp nkeys.KeyPair) nats.Option {
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	seed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(upub)
	tok, err := uc.Encode(akp)
	if err != nil {
		log.Fatal(err)
	}
	return nats.UserJWTAndSeed(tok, string(seed))
}

// startServer runs nats-server in operator mode with ar as its resolver
// and says hello through it.
func startServer(a *authority, ar server.AccountResolver) {
	s, err := server.NewServer(&server.Options{
		Host:             "127.0.0.1",
		Port:             -1,
		NoLog:            true,
		NoSigs:           true,
		TrustedOperators: []*jwt.OperatorClaims{a.operator},
		SystemAccount:    a.sysPub,
		AccountResolver:  ar,
	})
	if err != nil {
		log.Fatal(err)
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(5 * time.Second) {
		log.Fatal("server not ready")
	}
	nc, err := nats.Connect(s.ClientURL(), a.user())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("greet")
	_ = nc.Publish("greet", []byte("hello"))
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("received:", string(m.Data))
}

// Embed nats-server with account JWTs read from a natsauth store: writes
// are validated against the operator, reads are cached, and changes reach
// the running server live.
func ExampleNew() {
	a := newAuthority()
	policy := trust.FromOperators(a.operator)
	st := store.Wrap(mem.New(), store.Options{Policy: policy}) // or store.Open(ctx, "sqlite:///…", …)
	defer st.Close()
	ctx := context.Background()
	for pub, tok := range map[string]string{a.sysPub: a.sysJWT, a.accountPub: a.accountJWT} {
		if _, err := st.Put(ctx, pub, tok); err != nil {
			log.Fatal(err)
		}
	}
	res := resolver.New(st, resolver.Options{Policy: policy})
	startServer(a, res)
	fmt.Println("store reads:", res.Stats().Misses)
	// Output:
	// received: hello
	// store reads: 2
}

// With Options.SystemConn the Resolver answers the $SYS claims protocol
// like a `full` resolver, so `nsc push` works against the server: pushed
// JWTs are validated, persisted to the store and applied live.
func ExampleOptions_systemConn() {
	a := newAuthority()
	policy := trust.FromOperators(a.operator)
	st := store.Wrap(mem.New(), store.Options{Policy: policy})
	defer st.Close()
	if _, err := st.Put(context.Background(), a.sysPub, a.sysJWT); err != nil {
		log.Fatal(err)
	}
	var s *server.Server
	res := resolver.New(st, resolver.Options{
		Policy: policy,
		// An in-process connection as a user of the system account.
		SystemConn: func(ctx context.Context) (*nats.Conn, error) {
			return nats.Connect("", nats.InProcessServer(s), userOf(a.sysKP))
		},
	})
	s, err := server.NewServer(&server.Options{
		Port: -1, NoLog: true, NoSigs: true,
		TrustedOperators: []*jwt.OperatorClaims{a.operator},
		SystemAccount:    a.sysPub,
		AccountResolver:  res,
	})
	if err != nil {
		log.Fatal(err)
	}
	s.Start()
	defer s.Shutdown()
	<-res.Ready()

	// What `nsc push` does, as a system-account user.
	nc, err := nats.Connect(s.ClientURL(), userOf(a.sysKP))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	msg, err := nc.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(a.accountJWT), 5*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	var reply server.ServerAPIClaimUpdateResponse
	_ = json.Unmarshal(msg.Data, &reply)
	fmt.Println(reply.Data.Code, reply.Data.Message)
	_, err = st.Get(context.Background(), a.accountPub)
	fmt.Println("stored:", err == nil)
	// Output:
	// 200 jwt updated
	// stored: true
}

// The walkthrough's memory resolver as server.Options.AccountResolver.
func ExampleNewMemoryResolver() {
	a := newAuthority()
	mr := resolver.NewMemoryResolver()
	_ = mr.Store(a.sysPub, a.sysJWT)
	_ = mr.Store(a.accountPub, a.accountJWT)
	startServer(a, mr)
	fmt.Println("accounts:", len(mr.List()))
	// Output:
	// received: hello
	// accounts: 2
}

// Any resolver can be wrapped with a TTL cache.
func ExampleNewCachedResolver() {
	a := newAuthority()
	mr := resolver.NewMemoryResolver()
	_ = mr.Store(a.sysPub, a.sysJWT)
	_ = mr.Store(a.accountPub, a.accountJWT)
	cached := resolver.NewCachedResolver(mr, time.Minute)
	startServer(a, cached)
	// Output:
	// received: hello
}

// A resolver on an account server (natsauth account-server, or any server
// answering GET <base>/<account public key>), cached.
func ExampleNewHTTPResolver() {
	ar := resolver.NewCachedResolver(resolver.NewHTTPResolver("http://127.0.0.1:9090/jwt/v1/accounts/"), time.Minute)
	_ = &server.Options{AccountResolver: ar}
}
