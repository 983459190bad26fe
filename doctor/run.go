package doctor

import (
	"context"

	"github.com/natsauth/natsauth/authority"
)

// Run is one full doctor run, what `natsauth doctor` does: the checks of
// the home and where the stores and servers to check come from.
type Run struct {
	Options
	// FixPermissions first makes seeds, creds and TLS keys private
	// (FixPermissions).
	FixPermissions bool
	// Stores, when set, returns the stores the home's servers read; each
	// is compared with the home (CheckStores).
	Stores func(context.Context) ([]Store, error)
	// Servers, when set, asks running servers for their varz (e.g.
	// VarzOverNATS); each server is checked (CheckServer).
	Servers func(context.Context) ([]SourcedVarz, error)
	// Monitors are monitoring URLs whose /varz is read and checked
	// (FetchMonitors).
	Monitors []string
}

// Check runs the checks on h in that order and returns the finished
// report and, in that order too, what could not be checked: a store, a
// server, a monitoring URL. err is a failure that ends the run: the home
// cannot be read or its permissions cannot be fixed.
func (r Run) Check(ctx context.Context, h *authority.Home) (rep *Report, incomplete []error, err error) {
	rep = &Report{Home: h.Dir()}
	if r.FixPermissions {
		if rep.Fixed, err = FixPermissions(h); err != nil {
			return nil, nil, err
		}
	}
	if rep.Findings, err = CheckHome(h, r.Options); err != nil {
		return nil, nil, err
	}
	if r.Stores != nil {
		stores, err := r.Stores(ctx)
		if err == nil {
			var fs []Finding
			fs, err = CheckStores(ctx, h, stores, r.Options)
			rep.Findings = append(rep.Findings, fs...)
		}
		if err != nil {
			incomplete = append(incomplete, err)
		}
	}
	var varzs []SourcedVarz
	if r.Servers != nil {
		vs, err := r.Servers(ctx)
		if err != nil {
			incomplete = append(incomplete, err)
		}
		varzs = append(varzs, vs...)
	}
	vs, errs := FetchMonitors(ctx, r.Monitors)
	incomplete = append(incomplete, errs...)
	rep.AddServers(append(varzs, vs...), r.Command)
	rep.Finish()
	return rep, incomplete, nil
}
