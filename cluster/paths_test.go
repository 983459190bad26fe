package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/accountserver"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/resolver"
	"github.com/natsauth/natsauth/store"
)

// writePath is one way an account JWT reaches the shared store. write
// returns once the write was accepted, or the error that refused it.
type writePath struct {
	name  string
	write func(ctx context.Context, pub, token string) error
}

// storePath writes to the store directly, as `natsauth edit` and
// `natsauth revocations add` do.
func storePath(st store.Store) writePath {
	return writePath{name: "store", write: func(ctx context.Context, pub, token string) error {
		_, err := st.Put(ctx, pub, token)
		return err
	}}
}

// pushPath sends $SYS.REQ.CLAIMS.UPDATE (what `nsc push` sends) as the
// home's system user to one node, next(), of the cluster.
func pushPath(t testing.TB, h *authority.Home, next func() string) writePath {
	t.Helper()
	sysCreds, err := h.SystemUserCreds()
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]*nats.Conn{}
	return writePath{name: "push", write: func(ctx context.Context, _, token string) error {
		url := next()
		nc := conns[url]
		if nc == nil || nc.IsClosed() {
			var err error
			nc, err = nats.Connect(url, nats.UserCredentials(sysCreds), nats.MaxReconnects(-1))
			if err != nil {
				return fmt.Errorf("connect system user to %s: %w", url, err)
			}
			t.Cleanup(nc.Close)
			conns[url] = nc
		}
		return pushClaims(ctx, nc, token)
	}}
}

// pushClaims sends one $SYS.REQ.CLAIMS.UPDATE and returns the error the
// first answering server reported.
func pushClaims(ctx context.Context, nc *nats.Conn, token string) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := nc.RequestWithContext(rctx, resolver.SubjectClaimsUpdate, []byte(token))
		cancel()
		if errors.Is(err, nats.ErrNoResponders) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // responders still subscribing
			continue
		}
		if err != nil {
			return fmt.Errorf("claims update request: %w", err)
		}
		var resp server.ServerAPIClaimUpdateResponse
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return fmt.Errorf("claims update reply %q: %w", msg.Data, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("claims update refused by %s: %s", resp.Server.Name, resp.Error.Description)
		}
		if resp.Data == nil || resp.Data.Code != http.StatusOK {
			return fmt.Errorf("claims update reply %q: no success", msg.Data)
		}
		return nil
	}
}

// postPath POSTs to an account server over its own handle on the store,
// as nsc push --account-jwt-server-url or `natsauth push --account-server`
// does.
func postPath(t testing.TB, h *authority.Home, st store.Store) writePath {
	t.Helper()
	as := accountserver.New(st, accountserver.Options{OperatorJWT: h.OperatorJWT(), Policy: h.Policy()})
	hs := httptest.NewServer(as)
	t.Cleanup(func() { hs.Close(); as.Close() })
	return writePath{name: "post", write: func(ctx context.Context, pub, token string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/jwt/v1/accounts/"+pub, strings.NewReader(token))
		if err != nil {
			return err
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			return fmt.Errorf("post account %s: %w", pub, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("post account %s: %s: %s", pub, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}}
}

// mustWrite writes through p and returns the moment the write was accepted.
func mustWrite(t testing.TB, p writePath, pub, token string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.write(ctx, pub, token); err != nil {
		t.Fatalf("%s write: %v", p.name, err)
	}
	return time.Now()
}

// roundRobin returns the cluster's client URLs in turn.
func roundRobin(c *cluster) func() string {
	i := 0
	return func() string {
		urls := c.urls()
		i++
		return urls[i%len(urls)]
	}
}
