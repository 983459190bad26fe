package authority

import (
	"slices"

	"github.com/nats-io/jwt/v2"
)

// SigningKeyChanges lists the signing keys after has that before lacks
// (added) and those before has that after lacks (removed): what an edit
// of an account did to its signing keys. Both are nil when either
// account is.
func SigningKeyChanges(before, after *AccountInfo) (added, removed []string) {
	if before == nil || after == nil {
		return nil, nil
	}
	for _, k := range after.Claims.SigningKeys.Keys() {
		if !before.Claims.SigningKeys.Contains(k) {
			added = append(added, k)
		}
	}
	for _, k := range before.Claims.SigningKeys.Keys() {
		if !after.Claims.SigningKeys.Contains(k) {
			removed = append(removed, k)
		}
	}
	return added, removed
}

// AddedImports lists, in after's order, the imports after has that before
// does not (equal in every field): what AddImport added. It is nil when
// either account is.
func AddedImports(before, after *AccountInfo) []*jwt.Import {
	if before == nil || after == nil {
		return nil
	}
	var out []*jwt.Import
	for _, im := range after.Claims.Imports {
		if !slices.ContainsFunc(before.Claims.Imports, func(o *jwt.Import) bool { return *o == *im }) {
			out = append(out, im)
		}
	}
	return out
}

// Spec is the export of subject that e describes when the export is new:
// a setting e leaves nil takes its zero value (RemoveLatency does not
// apply).
func (e ExportEdit) Spec(subject string) ExportSpec {
	return ExportSpec{Subject: subject, Name: val(e.Name), Service: val(e.Service), Private: val(e.Private),
		ResponseType: val(e.ResponseType), ResponseThreshold: val(e.ResponseThreshold),
		LatencySubject: val(e.LatencySubject), LatencySampling: val(e.LatencySampling),
		AccountTokenPosition: val(e.AccountTokenPosition), AllowTrace: val(e.AllowTrace),
		Description: val(e.Description), InfoURL: val(e.InfoURL)}
}

// val is *p, or the zero value when p is nil.
func val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
