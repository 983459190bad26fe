package accountserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/internal/fsx"
	"github.com/natsauth/natsauth/store"
)

// Activations keeps activation tokens pushed to the account server
// (nsc's and natsauth's generate activation --push), by the token's hash.
type Activations interface {
	Get(ctx context.Context, hash string) (string, error) // store.ErrNotFound when absent
	Put(ctx context.Context, hash, token string) error
}

// memActivations keeps tokens in memory (the default).
type memActivations struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemActivations keeps activation tokens in memory: they are gone when
// the process ends.
func NewMemActivations() Activations { return &memActivations{m: map[string]string{}} }

func (a *memActivations) Get(_ context.Context, hash string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tok, ok := a.m[hash]
	if !ok {
		return "", store.ErrNotFound
	}
	return tok, nil
}

func (a *memActivations) Put(_ context.Context, hash, token string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[hash] = token
	return nil
}

// dirActivations keeps one file per token in a directory.
type dirActivations struct{ dir string }

// NewDirActivations keeps activation tokens as files in dir (created
// 0700), one <hash>.jwt each, as the nats-account-server does.
func NewDirActivations(dir string) (Activations, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("account server: activations: %w", err)
	}
	return dirActivations{dir: dir}, nil
}

func (d dirActivations) Get(_ context.Context, hash string) (string, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, hash+".jwt"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", store.ErrNotFound
	}
	return string(b), err
}

func (d dirActivations) Put(_ context.Context, hash, token string) error {
	return fsx.WriteFile(filepath.Join(d.dir, hash+".jwt"), []byte(token), 0o600)
}

// hashRe is what an activation hash looks like (base32 of a SHA-256, as
// jwt.ActivationClaims.HashID makes it).
var hashRe = regexp.MustCompile(`^[A-Z2-7]{16,64}={0,6}$`)

// activations serves POST /jwt/v1/activations and GET
// /jwt/v1/activations/<hash>.
func (s *Server) activations(w http.ResponseWriter, r *http.Request, hash string) {
	switch {
	case hash == "" && r.Method == http.MethodPost:
		s.postActivation(w, r)
	case hash != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if !hashRe.MatchString(hash) {
			s.fail(w, r, http.StatusBadRequest, "not an activation hash", nil)
			return
		}
		tok, err := s.acts.Get(r.Context(), hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.fail(w, r, http.StatusNotFound, "no such activation", nil)
		case err != nil:
			s.fail(w, r, http.StatusInternalServerError, "read activation", err)
		default:
			w.Header().Set("Content-Type", "application/jwt")
			_, _ = io.WriteString(w, tok)
		}
	default:
		w.Header().Set("Allow", "GET, HEAD (with a hash), POST (without)")
		s.fail(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", nil)
	}
}

// postActivation keeps an activation token whose issuer is an account of
// the store (its identity key or one of its signing keys), unexpired.
func (s *Server) postActivation(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "read body", err)
		return
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		s.fail(w, r, http.StatusRequestEntityTooLarge, "activation larger than the limit", nil)
		return
	}
	tok := strings.TrimSpace(string(body))
	ac, err := jwt.DecodeActivationClaims(tok)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "not an activation token: "+err.Error(), nil)
		return
	}
	if err := s.checkActivation(r.Context(), ac); err != nil {
		s.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		return
	}
	hash, err := ac.HashID()
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "activation hash: "+err.Error(), nil)
		return
	}
	if err := s.acts.Put(r.Context(), hash, tok); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "keep activation", err)
		return
	}
	s.log.Info("activation kept", "hash", hash, "issuer", ac.Issuer, "subject", ac.ImportSubject, "target", ac.Subject)
	w.WriteHeader(http.StatusOK)
}

// checkActivation wants the token valid now and signed by an account the
// store holds: the account itself or a signing key its JWT lists.
func (s *Server) checkActivation(ctx context.Context, ac *jwt.ActivationClaims) error {
	vr := jwt.CreateValidationResults()
	ac.Validate(vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return fmt.Errorf("invalid activation: %v", errs[0])
	}
	if ac.Expires != 0 && ac.Expires < time.Now().Unix() {
		return fmt.Errorf("invalid activation: expired at %s", time.Unix(ac.Expires, 0).UTC().Format(time.RFC3339))
	}
	issuer := ac.Issuer
	if ac.IssuerAccount != "" {
		issuer = ac.IssuerAccount
	}
	rec, err := s.st.Get(ctx, issuer)
	if err != nil {
		return fmt.Errorf("the activation's issuer %s is not an account this server keeps", issuer)
	}
	acc, err := jwt.DecodeAccountClaims(rec.JWT)
	if err != nil {
		return fmt.Errorf("the issuer's account JWT: %v", err)
	}
	if ac.Issuer != acc.Subject && !acc.SigningKeys.Contains(ac.Issuer) {
		return fmt.Errorf("the activation is signed by %s, which is not a key of account %s", ac.Issuer, acc.Subject)
	}
	return nil
}
