package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
)

// Probe is a throwaway user of an account, signed by one of its keys: a
// server accepts it exactly when it runs an account JWT that lists that
// key. It may publish and subscribe nothing and expires in minutes.
type Probe struct {
	Account, Key string
	jwt, seed    string
}

// NewProbe mints a probe user of acc signed by key (whose seed must be in
// the keystore).
func (m *Manager) NewProbe(acc *authority.AccountInfo, key string) (Probe, error) {
	signer, err := m.home.AccountSigner(key)
	if err != nil {
		return Probe{}, fmt.Errorf("probe user: %w", err)
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return Probe{}, fmt.Errorf("probe user: %w", err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "natsauth-rotation-probe"
	uc.Expires = time.Now().Add(10 * time.Minute).Unix()
	if key != acc.Pub {
		uc.IssuerAccount = acc.Pub
	}
	if s, ok := acc.Claims.SigningKeys[key]; ok && s != nil {
		uc.UserPermissionLimits = jwt.UserPermissionLimits{} // a scoped key's template applies
	} else {
		uc.Pub.Deny.Add(">")
		uc.Sub.Deny.Add(">")
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		return Probe{}, fmt.Errorf("probe user: %w", err)
	}
	seed, _ := ukp.Seed()
	return Probe{Account: acc.Name, Key: key, jwt: tok, seed: string(seed)}, nil
}

// errAuthorization means a server refused the probe.
var errAuthorization = errors.New("authorization violation")

// try connects the probe to url: nil when the server accepts it,
// errAuthorization when it refuses it, another error when it cannot tell.
func (p Probe) try(r Remote, url string) error {
	opts := []nats.Option{nats.UserJWTAndSeed(p.jwt, p.seed), nats.NoReconnect(), nats.Timeout(5 * time.Second),
		nats.Name("natsauth-rotation-probe")}
	if r.TLSCA != "" {
		opts = append(opts, nats.RootCAs(r.TLSCA))
	}
	if r.TLSCert != "" || r.TLSKey != "" {
		opts = append(opts, nats.ClientCert(r.TLSCert, r.TLSKey))
	}
	nc, err := nats.Connect(url, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		return errAuthorization
	}
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.Flush()
}

// ServerURLs are the client URLs of every server nc knows: the one it uses
// and those the cluster advertised.
func ServerURLs(nc *nats.Conn) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range append([]string{nc.ConnectedUrl()}, nc.Servers()...) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// AwaitProbe waits, at most timeout, until every server of the cluster nc
// is connected to accepts the probe (accept) or refuses it (!accept): then
// each runs the account JWT that lists (or no longer lists) the probe's
// key. It returns how many servers were checked.
func AwaitProbe(ctx context.Context, nc *nats.Conn, r Remote, p Probe, accept bool, timeout time.Duration) (int, error) {
	want := "accept"
	if !accept {
		want = "refuse"
	}
	deadline := time.Now().Add(timeout)
	for {
		urls := ServerURLs(nc)
		var behind []string
		for _, u := range urls {
			err := p.try(r, u)
			switch {
			case accept && err == nil, !accept && errors.Is(err, errAuthorization):
			case err == nil || errors.Is(err, errAuthorization):
				behind = append(behind, u)
			default:
				behind = append(behind, u+" ("+err.Error()+")")
			}
		}
		if len(behind) == 0 {
			return len(urls), nil
		}
		if time.Now().After(deadline) {
			return len(urls), fmt.Errorf("servers %s do not %s users of account %s signed by %s after %s",
				strings.Join(behind, ", "), want, p.Account, p.Key, timeout)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return len(urls), ctx.Err()
		}
	}
}

// ServersMissingKey asks every server for its trusted operators
// ($SYS.REQ.SERVER.PING.VARZ) and returns those that do not list key as an
// operator signing key, and how many answered.
func ServersMissingKey(ctx context.Context, nc *nats.Conn, gather time.Duration, key string) ([]string, int, error) {
	replies, err := claims.Ping(ctx, nc, "VARZ", struct{}{}, gather)
	if err != nil {
		return nil, 0, err
	}
	var missing []string
	for _, r := range replies {
		var vz struct {
			Operators []*jwt.OperatorClaims `json:"trusted_operators_claim"`
		}
		if r.Error != nil || json.Unmarshal(r.Data, &vz) != nil {
			missing = append(missing, r.Label())
			continue
		}
		ok := false
		for _, oc := range vz.Operators {
			if oc != nil && oc.SigningKeys.Contains(key) {
				ok = true
			}
		}
		if !ok {
			missing = append(missing, r.Label())
		}
	}
	sort.Strings(missing)
	return missing, len(replies), nil
}
