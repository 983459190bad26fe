package node

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// reloadShim works around two facts of nats-server's reload (v2.15):
// ReloadOptions refuses options holding a resolver type it does not know
// ("OnReload, sort or explicitly skip type"), and when it reconfigures
// authorization it installs the options' resolver in place of the running
// one. So after NewServer the server's options hold a stock URL resolver
// that points at this loopback handler, which answers from natsauth's
// resolver; during a reload that stand-in keeps every fetch working, and
// Reload puts natsauth's resolver back as soon as nats-server returns.
type reloadShim struct {
	ln       net.Listener
	srv      *http.Server
	resolver *server.URLAccResolver
}

func newReloadShim(fetch func(string) (string, error)) (*reloadShim, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pub := strings.TrimPrefix(r.URL.Path, "/")
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if pub == "" { // nats-server probes the base URL
			w.WriteHeader(http.StatusOK)
			return
		}
		if !nkeys.IsValidPublicAccountKey(pub) {
			http.Error(w, "not an account public key", http.StatusBadRequest)
			return
		}
		tok, err := fetch(pub)
		if err != nil {
			http.Error(w, "account not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/jwt")
		_, _ = w.Write([]byte(tok))
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // listener closed on shutdown
		}
	}()
	ur, err := server.NewURLAccResolver("http://" + ln.Addr().String() + "/")
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &reloadShim{ln: ln, srv: srv, resolver: ur}, nil
}

func (r *reloadShim) Close() error { return r.srv.Close() }
