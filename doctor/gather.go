package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/store"
)

// Store is a store the home's servers read, to compare with the home.
type Store struct {
	URL   string // where it is, without a password: it names the store in findings
	Store store.Store
}

// CheckStores compares the home with every store (CheckStore); when there
// are several, each finding's object names its store.
func CheckStores(ctx context.Context, h *authority.Home, stores []Store, o Options) ([]Finding, error) {
	var out []Finding
	for _, s := range stores {
		fs, err := CheckStore(ctx, h, s.Store, o)
		if err != nil {
			return out, fmt.Errorf("%s: %w", s.URL, err)
		}
		for i := range fs {
			if len(stores) > 1 {
				fs[i].Object += " in " + s.URL
			}
		}
		out = append(out, fs...)
	}
	return out, nil
}

// VarzOverNATS asks every server of the cluster nc is connected to for its
// varz ($SYS.REQ.SERVER.PING.VARZ; nc is a system-account connection),
// gathering answers for gather. A server whose answer cannot be read ends
// the list with an error.
func VarzOverNATS(ctx context.Context, nc *nats.Conn, gather time.Duration) ([]SourcedVarz, error) {
	replies, err := claims.Ping(ctx, nc, "VARZ", struct{}{}, gather)
	if err != nil {
		return nil, err
	}
	var out []SourcedVarz
	for _, r := range replies {
		var v Varz
		if r.Error != nil || json.Unmarshal(r.Data, &v) != nil {
			return out, fmt.Errorf("server %s did not answer VARZ", r.Label())
		}
		out = append(out, SourcedVarz{Source: r.Server.ID, Varz: &v})
	}
	return out, nil
}

// FetchMonitors reads /varz from every monitoring URL (FetchVarz, 5 s each
// at most) and returns what it read and why the others could not be.
func FetchMonitors(ctx context.Context, urls []string) ([]SourcedVarz, []error) {
	client := &http.Client{Timeout: 5 * time.Second}
	var out []SourcedVarz
	var errs []error
	for _, m := range urls {
		v, err := FetchVarz(ctx, client, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, SourcedVarz{Source: m, Varz: v})
	}
	return out, errs
}
