package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/manage"
)

// Problem is an RFC 9457 problem document. Errors names the fields that
// were wrong, each with what to do.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Errors   []access.FieldError `json:"errors,omitempty"`
	// Failures lists where a saved change did not reach (status 202 and
	// type .../not-applied only).
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one store or server a change did not reach.
type Failure struct {
	Account string `json:"account"`
	Target  string `json:"target"`
	Error   string `json:"error"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

const problemBase = "https://natsauth.dev/problems/"

// problem builds a problem of a kind ("invalid", "not-found", ...).
func problem(status int, kind, title, detail string, fields ...access.FieldError) *Problem {
	return &Problem{Type: problemBase + kind, Title: title, Status: status, Detail: detail, Errors: fields}
}

func badRequest(detail string, fields ...access.FieldError) *Problem {
	return problem(http.StatusBadRequest, "invalid", "The request is not valid", detail, fields...)
}

func forbidden(detail string) *Problem {
	return problem(http.StatusForbidden, "forbidden", "Not allowed for your role", detail)
}

func notFound(detail string) *Problem {
	return problem(http.StatusNotFound, "not-found", "Not found", detail)
}

// toProblem maps an error of the core, the authority or access to a
// problem. Validation problems name the field they are about when the
// authority's message starts with it (its messages use nsc's flag names;
// the API's fields are those names with '_' for '-').
func toProblem(err error, fields map[string]bool) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var fe access.FieldErrors
	if errors.As(err, &fe) {
		return badRequest("some fields are not valid", fe...)
	}
	var ve *authority.ValidationError
	if errors.As(err, &ve) {
		status, kind, title := http.StatusBadRequest, "invalid", "The request is not valid"
		switch {
		case errors.Is(err, authority.ErrExists):
			status, kind, title = http.StatusConflict, "exists", "It exists already"
		case errors.Is(err, authority.ErrNotFound) && len(ve.Problems) == 1:
			status, kind, title = http.StatusNotFound, "not-found", "Not found"
		}
		out := problem(status, kind, title, ve.Op)
		for _, msg := range ve.Problems {
			out.Errors = append(out.Errors, access.FieldError{Field: fieldOf(msg, fields), Detail: msg})
		}
		return out
	}
	switch {
	case errors.Is(err, authority.ErrNotFound), errors.Is(err, access.ErrNotFound), errors.Is(err, manage.ErrNoConnection):
		return notFound(err.Error())
	case errors.Is(err, authority.ErrExists), errors.Is(err, access.ErrExists):
		return problem(http.StatusConflict, "exists", "It exists already", err.Error())
	case errors.Is(err, manage.ErrCredsTaken):
		return problem(http.StatusGone, "creds-taken", "The creds were downloaded already", err.Error()+
			"; re-issue the user (edit it) to download new creds")
	case errors.Is(err, manage.ErrNoCreds):
		return problem(http.StatusConflict, "no-creds", "No creds file", err.Error())
	case errors.Is(err, authority.ErrInvalid), errors.Is(err, access.ErrInvalid):
		return badRequest(err.Error())
	case errors.Is(err, access.ErrUnauthorized), errors.Is(err, access.ErrBadPassword):
		return problem(http.StatusUnauthorized, "unauthorized", "Sign in first", err.Error())
	}
	return problem(http.StatusInternalServerError, "internal", "The change could not be made", err.Error())
}

// fieldOf picks the request field a problem message is about: its first
// word, when that names a field of the request.
func fieldOf(msg string, fields map[string]bool) string {
	w := msg
	if i := strings.IndexAny(w, " :"); i >= 0 {
		w = w[:i]
	}
	w = strings.ReplaceAll(strings.TrimPrefix(w, "--"), "-", "_")
	if fields[w] {
		return w
	}
	switch w {
	case "expiry":
		if fields["expires"] {
			return "expires"
		}
	case "tag":
		return "tags"
	case "source_network":
		return "source_networks"
	}
	for f := range fields {
		if strings.Contains(msg, strings.ReplaceAll(f, "_", "-")) {
			return f
		}
	}
	return ""
}

// notApplied is the answer to a change saved in the home that did not
// reach every store or running server: 202 Accepted, with the failures.
func notApplied(pe *manage.PublishError) *Problem {
	p := problem(http.StatusAccepted, "not-applied", "Saved, but not applied everywhere",
		"the change is saved in the home but did not reach every server; natsauth push (or the next start of natsauth serve) publishes it")
	for _, d := range pe.Failures {
		p.Failures = append(p.Failures, Failure{Account: d.Account, Target: d.Target, Error: fmt.Sprint(d.Err)})
	}
	return p
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
