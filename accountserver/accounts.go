package accountserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// accountsRoot answers the resolver probe and, with ?list=true, lists keys.
func (s *Server) accountsRoot(w http.ResponseWriter, r *http.Request) {
	if !queryTrue(r, "list") {
		// nats-server's URL resolver fetches the bare base once at start and
		// needs 200; the body is not read.
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		w.WriteHeader(http.StatusOK)
		return
	}
	keys, err := s.st.List(r.Context())
	if err != nil {
		s.storeFail(w, r, "list accounts", err)
		return
	}
	if keys == nil {
		keys = []string{}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, keys)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, key string) {
	if err := trust.CheckAccountKey(key); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	rec, err := s.st.Get(r.Context(), key)
	if err != nil {
		s.storeFail(w, r, "", err) // the store names the account
		return
	}
	if queryTrue(r, "check") && rec.Expires > 0 && rec.Expires <= s.opts.Now().Unix() {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("account %s: jwt expired", key), nil)
		return
	}
	if queryTrue(r, "decode") {
		s.writeDecoded(w, r, rec)
		return
	}
	etag := `"` + rec.ID + `"`
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	if rec.ID != "" {
		h.Set("ETag", etag)
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if queryTrue(r, "text") {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/jwt")
	}
	h.Set("Content-Length", strconv.Itoa(len(rec.JWT)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, rec.JWT)
	}
}

// etagMatch reports whether an If-None-Match header matches etag.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// decoded is the ?decode=true answer.
type decoded struct {
	Header json.RawMessage `json:"header"`
	Claims json.RawMessage `json:"claims"`
}

func (s *Server) writeDecoded(w http.ResponseWriter, r *http.Request, rec store.Record) {
	parts := strings.Split(rec.JWT, ".")
	var d decoded
	var err error
	if len(parts) != 3 {
		err = errors.New("stored jwt does not have three parts")
	} else if d.Header, err = decodeSegment(parts[0]); err == nil {
		d.Claims, err = decodeSegment(parts[1])
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "stored jwt cannot be decoded", fmt.Errorf("decode account %s: %w", rec.Account, err))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, d)
}

func decodeSegment(seg string) (json.RawMessage, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, errors.New("segment is not json")
	}
	return raw, nil
}

// postResult is the body of a successful POST.
type postResult struct {
	Account string `json:"account"`
	Change  string `json:"change"`
	ID      string `json:"jti,omitempty"`
	Message string `json:"message"`
}

// seedPattern finds an nkey seed (operator, account, user, server, cluster,
// curve) in a body so that it is refused without being echoed or stored.
var seedPattern = regexp.MustCompile(`\bS[OAUNCX][A-Z2-7]{56}\b`)

// seedish is looser than seedPattern: it also catches a truncated seed in
// text about to be logged or answered.
var seedish = regexp.MustCompile(`\bS[OAUNCX][A-Z2-7]{16,}`)

func (s *Server) postAccount(w http.ResponseWriter, r *http.Request, key string) {
	if err := trust.CheckAccountKey(key); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	max := s.opts.MaxBodyBytes
	if r.ContentLength > max {
		s.fail(w, r, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body is %d bytes, over the %d byte limit", r.ContentLength, max), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body is over the %d byte limit", max), nil)
			return
		}
		s.fail(w, r, http.StatusBadRequest, "could not read the request body", err)
		return
	}
	token, err := tokenFromBody(body)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("account %s: %v", key, err), nil)
		return
	}
	actx := audit.WithActor(r.Context(), audit.Actor{Via: audit.ViaHTTP, Remote: r.RemoteAddr})
	change, err := s.st.Put(actx, key, token)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrInvalid):
		s.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	case errors.Is(err, store.ErrStale):
		s.fail(w, r, http.StatusConflict, err.Error(), nil)
		return
	case errors.Is(err, store.ErrReadOnly):
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, http.StatusMethodNotAllowed, "the store is read-only", nil)
		return
	default:
		s.storeFail(w, r, "", err) // the store names the account
		return
	}
	res := postResult{Account: key, Change: change.String()}
	if ac, err := jwt.DecodeAccountClaims(token); err == nil {
		res.ID = ac.ID
	}
	switch change {
	case store.Created:
		res.Message = "account jwt stored"
	case store.Updated:
		res.Message = "account jwt updated"
	default:
		res.Message = "account jwt unchanged"
	}
	s.log.Info("account jwt posted", "account", key, "change", res.Change, "jti", res.ID, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, res)
}

// tokenFromBody accepts the raw JWT (what nsc push sends, with any content
// type), a decorated JWT file, or surrounding whitespace.
func tokenFromBody(body []byte) (string, error) {
	if seedPattern.Match(body) {
		return "", errors.New("the body contains an nkey seed; send only the account jwt (the seed was not stored)")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", errors.New("the body is empty; send the account jwt")
	}
	if bytes.HasPrefix(body, []byte("-----")) {
		tok, err := jwt.ParseDecoratedJWT(body)
		if err != nil {
			return "", errors.New("the body is a decorated file without a jwt")
		}
		return strings.TrimSpace(tok), nil
	}
	return string(body), nil
}

// withOp prefixes err with op unless op is empty.
func withOp(op string, err error) error {
	if op == "" {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// storeFail answers for a store error that is not the client's fault (or
// is not found). op names the operation when err does not.
func (s *Server) storeFail(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case r.Context().Err() != nil && errors.Is(err, r.Context().Err()):
		// The client went away mid-request: nothing failed on our side.
		s.log.Debug("client gone before the answer", "method", r.Method, "path", redact(r.URL.Path))
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, store.ErrInvalid):
		s.fail(w, r, http.StatusBadRequest, err.Error(), nil)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusServiceUnavailable, "the account store is unavailable; try again later", withOp(op, err))
	default:
		s.fail(w, r, http.StatusInternalServerError, "internal error reading the account store", withOp(op, err))
	}
}

// errorBody is every error answer.
type errorBody struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// fail answers with a JSON error. msg goes to the client; cause, which may
// hold backend details, only to the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string, cause error) {
	msg = redact(msg)
	path := redact(r.URL.Path)
	if cause != nil {
		s.log.Warn("request failed", "method", r.Method, "path", path, "status", status, "err", redact(cause.Error()))
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", path, "status", status, "reason", msg)
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, status, errorBody{Status: status, Error: msg})
}

// redact replaces anything shaped like an nkey seed, so that a seed sent by
// mistake (in a path or a body) never reaches an answer or a log line.
func redact(s string) string {
	return seedish.ReplaceAllString(s, "<redacted seed>")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"status":500,"error":"could not encode the answer"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func queryTrue(r *http.Request, name string) bool {
	v, err := strconv.ParseBool(r.URL.Query().Get(name))
	return err == nil && v
}
