// Package httpstore is a read-only account-JWT store that reads from an
// account server (natsauth's or the nats-account-server), registered as
// "http://" and "https://":
//
//	https://accounts.example.com/jwt/v1/accounts/?ca=/etc/natsauth/ca.pem&timeout=2s
//
// The URL is the accounts base: the store GETs <base><pubkey>. Reads are
// ETag-aware (a small cache answers 304s). Listing (?list=true) and
// watching (/jwt/v1/watch) use natsauth extensions of the API. Writes go to
// the account server's POST endpoint through other tools; this store
// refuses them with store.ErrReadOnly.
//
// Query parameters, removed before requests are made:
//
//	ca=FILE        PEM CA bundle trusted in addition to the system roots
//	timeout=DUR    per-request timeout (default 2s)
//	cache=N        how many JWTs the ETag cache keeps (default 1024)
package httpstore

import (
	"container/list"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/trust"
)

// Defaults.
const (
	DefaultTimeout   = 2 * time.Second
	DefaultCacheSize = 1024
	// maxJWTBytes bounds what is read from the server for one account.
	maxJWTBytes = trust.MaxJWTSize
	// maxListBytes bounds a ?list=true answer (about 1.4M keys).
	maxListBytes = 64 << 20
)

// Store reads account JWTs from an account server.
type Store struct {
	base    *url.URL // accounts base, always ending in "/"
	watchU  *url.URL // the watch stream
	client  *http.Client
	stream  *http.Client // no overall timeout: for the watch stream
	timeout time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	cache *lru

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

var (
	_ store.Backend = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Config configures a Store.
type Config struct {
	// Base is the accounts base URL (http or https); the store GETs
	// <Base><pubkey>. A missing trailing slash is added.
	Base *url.URL
	// Timeout bounds one request (DefaultTimeout when zero).
	Timeout time.Duration
	// CacheSize is how many JWTs the ETag cache keeps (DefaultCacheSize
	// when zero; NoCache for none).
	CacheSize int
	// CAFile is a PEM CA bundle trusted in addition to the system roots.
	CAFile string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// NoCache as Config.CacheSize keeps no ETag cache.
const NoCache = -1

// ParseURL reads a Config from an accounts base URL with the parameters
// ca, timeout and cache (removed from the base).
func ParseURL(u *url.URL) (Config, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return Config{}, fmt.Errorf("httpstore: scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return Config{}, errors.New("httpstore: url has no host")
	}
	q := u.Query()
	cfg := Config{CAFile: q.Get("ca")}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("httpstore: timeout=%q is not a positive duration such as 2s", v)
		}
		cfg.Timeout = d
	}
	if v := q.Get("cache"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("httpstore: cache=%q is not a count", v)
		}
		cfg.CacheSize = n
		if n == 0 {
			cfg.CacheSize = NoCache
		}
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	cfg.Base = &base
	return cfg, nil
}

// New returns a Store for cfg. It makes no request.
func New(_ context.Context, cfg Config) (*Store, error) {
	if cfg.Base == nil || cfg.Base.Host == "" || (cfg.Base.Scheme != "http" && cfg.Base.Scheme != "https") {
		return nil, errors.New("httpstore: want an http or https base URL with a host")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	size := cfg.CacheSize
	switch {
	case size == 0:
		size = DefaultCacheSize
	case size < 0:
		size = 0
	}
	tlsConf, err := tlsConfig(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	base := *cfg.Base
	base.RawQuery, base.Fragment = "", ""
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
		if base.RawPath != "" {
			base.RawPath += "/"
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{
		base:    &base,
		watchU:  watchURL(&base),
		client:  &http.Client{Transport: tr, Timeout: timeout},
		stream:  &http.Client{Transport: tr},
		timeout: timeout,
		log:     logger,
		cache:   newLRU(size),
		ctx:     ctx,
		cancel:  cancel,
	}, nil
}

// watchURL derives the watch stream from the accounts base:
// .../jwt/v1/accounts/ → .../jwt/v1/watch, .../accounts/ → .../watch.
func watchURL(base *url.URL) *url.URL {
	w := *base
	w.RawPath = ""
	p := strings.TrimSuffix(base.Path, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		p = p[:i]
	}
	w.Path = p + "/watch"
	return &w
}

func tlsConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil // the system roots
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("httpstore: read ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("httpstore: ca file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// URL returns the accounts base URL, with any password redacted.
func (s *Store) URL() string { return s.base.Redacted() }

func (s *Store) accountURL(account string) string {
	return s.base.String() + url.PathEscape(account)
}

// Get fetches account's JWT, revalidating a cached copy with If-None-Match.
func (s *Store) Get(ctx context.Context, account string) (store.Record, error) {
	if err := s.checkOpen(); err != nil {
		return store.Record{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.accountURL(account), nil)
	if err != nil {
		return store.Record{}, fmt.Errorf("get account %s: %w", account, err)
	}
	s.mu.Lock()
	cached, haveCached := s.cache.get(account)
	s.mu.Unlock()
	if haveCached && cached.etag != "" {
		req.Header.Set("If-None-Match", cached.etag)
	}
	req.Header.Set("Accept", "application/jwt")
	resp, err := s.client.Do(req)
	if err != nil {
		return store.Record{}, s.unavailable("get account "+account, err)
	}
	defer drain(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotModified && haveCached:
		return cached.rec, nil
	case resp.StatusCode == http.StatusNotFound:
		s.mu.Lock()
		s.cache.remove(account)
		s.mu.Unlock()
		return store.Record{}, fmt.Errorf("get account %s: %w", account, store.ErrNotFound)
	case resp.StatusCode >= 500:
		return store.Record{}, fmt.Errorf("get account %s: %w: %s answered %s",
			account, store.ErrUnavailable, s.URL(), resp.Status)
	case resp.StatusCode != http.StatusOK:
		return store.Record{}, fmt.Errorf("get account %s: %s answered %s%s",
			account, s.URL(), resp.Status, errorDetail(resp.Body))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWTBytes+1))
	if err != nil {
		return store.Record{}, s.unavailable("get account "+account, err)
	}
	if len(body) > maxJWTBytes {
		return store.Record{}, fmt.Errorf("get account %s: %s answered with more than %d bytes", account, s.URL(), maxJWTBytes)
	}
	token := strings.TrimSpace(string(body))
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return store.Record{}, fmt.Errorf("get account %s: %s answered with something that is not an account jwt: %w", account, s.URL(), err)
	}
	if ac.Subject != account {
		return store.Record{}, fmt.Errorf("get account %s: %s answered with the jwt of account %s", account, s.URL(), ac.Subject)
	}
	rec := store.RecordFromClaims(token, ac)
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		rec.UpdatedAt = t
	}
	s.mu.Lock()
	s.cache.put(account, cacheEntry{rec: rec, etag: resp.Header.Get("ETag")})
	s.mu.Unlock()
	return rec, nil
}

// PutIfNewer refuses: the store is read-only.
func (s *Store) PutIfNewer(_ context.Context, rec store.Record) (store.Change, error) {
	return store.Unchanged, fmt.Errorf("put account %s: %w (post to the account server instead)", rec.Account, store.ErrReadOnly)
}

// Delete refuses: the store is read-only.
func (s *Store) Delete(_ context.Context, account string) error {
	return fmt.Errorf("delete account %s: %w", account, store.ErrReadOnly)
}

// List asks the account server for every stored key (a natsauth extension;
// a nats-account-server cannot list).
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	u := *s.base
	u.RawQuery = "list=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.unavailable("list accounts", err)
	}
	defer drain(resp.Body)
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("list accounts: %w: %s answered %s", store.ErrUnavailable, s.URL(), resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list accounts: %s answered %s%s", s.URL(), resp.Status, errorDetail(resp.Body))
	}
	var keys []string
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxListBytes))
	if err := dec.Decode(&keys); err != nil {
		return nil, fmt.Errorf("list accounts: %s cannot list accounts (listing is a natsauth account-server extension): %w", s.URL(), err)
	}
	return keys, nil
}

// Close ends every watch and releases idle connections.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.client.CloseIdleConnections()
	return nil
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// unavailable wraps a transport error as ErrUnavailable.
func (s *Store) unavailable(op string, err error) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("%s: %w: %w", op, store.ErrUnavailable, err)
}

// errorDetail reads a short reason from an error answer.
func errorDetail(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 512))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return ": " + e.Error
	}
	if t := strings.TrimSpace(string(b)); t != "" && !strings.ContainsAny(t, "\x00") {
		return ": " + t
	}
	return ""
}

func drain(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, 64<<10))
	_ = b.Close()
}

type cacheEntry struct {
	rec  store.Record
	etag string
}

// lru is a small least-recently-used cache; callers hold Store.mu.
type lru struct {
	max   int
	order *list.List // front: most recent; values are string keys
	items map[string]*list.Element
	vals  map[string]cacheEntry
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: map[string]*list.Element{}, vals: map[string]cacheEntry{}}
}

func (c *lru) get(k string) (cacheEntry, bool) {
	el, ok := c.items[k]
	if !ok {
		return cacheEntry{}, false
	}
	c.order.MoveToFront(el)
	return c.vals[k], true
}

func (c *lru) put(k string, v cacheEntry) {
	if c.max == 0 {
		return
	}
	if el, ok := c.items[k]; ok {
		c.order.MoveToFront(el)
		c.vals[k] = v
		return
	}
	c.items[k] = c.order.PushFront(k)
	c.vals[k] = v
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(string))
		delete(c.vals, old.Value.(string))
	}
}

func (c *lru) remove(k string) {
	if el, ok := c.items[k]; ok {
		c.order.Remove(el)
		delete(c.items, k)
		delete(c.vals, k)
	}
}
