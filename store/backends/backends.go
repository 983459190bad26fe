// Package backends registers every account-JWT store backend with the
// store package, in one place: importing it (for its side effect) makes
// store.Open understand every URL scheme natsauth knows.
//
//	import _ "github.com/natsauth/natsauth/store/backends"
//
//	st, err := store.Open(ctx, "sqlite:///var/lib/natsauth/accounts.db", store.Options{Policy: p})
//
// A program that needs fewer backends (to link no PostgreSQL driver, say)
// registers the ones it uses itself, each the same way: the backend's
// ParseURL, then its New.
//
//	scheme                 backend
//	mem://                 store/mem
//	dir:///abs/path        store/dir
//	sqlite:///abs/file.db  store/sqlite
//	postgres://, postgresql://  store/postgres
//	http://, https://      store/httpstore (read-only)
package backends

import (
	"context"
	"net/url"

	"github.com/natsauth/natsauth/store"
	"github.com/natsauth/natsauth/store/dir"
	"github.com/natsauth/natsauth/store/httpstore"
	"github.com/natsauth/natsauth/store/mem"
	"github.com/natsauth/natsauth/store/postgres"
	"github.com/natsauth/natsauth/store/sqlite"
)

func init() {
	store.Register("mem", Mem)
	store.Register("dir", Dir)
	store.Register("sqlite", SQLite)
	store.Register("postgres", Postgres)
	store.Register("postgresql", Postgres)
	store.Register("http", HTTP)
	store.Register("https", HTTP)
}

// Mem opens a mem:// URL.
func Mem(_ context.Context, u *url.URL, _ store.Options) (store.Backend, error) {
	if _, err := mem.ParseURL(u); err != nil {
		return nil, err
	}
	return mem.New(), nil
}

// Dir opens a dir:// URL.
func Dir(ctx context.Context, u *url.URL, opts store.Options) (store.Backend, error) {
	cfg, err := dir.ParseURL(u)
	if err != nil {
		return nil, err
	}
	cfg.Logger = opts.Logger
	return dir.New(ctx, cfg)
}

// SQLite opens a sqlite:// URL.
func SQLite(ctx context.Context, u *url.URL, opts store.Options) (store.Backend, error) {
	cfg, err := sqlite.ParseURL(u)
	if err != nil {
		return nil, err
	}
	cfg.Logger = opts.Logger
	return sqlite.New(ctx, cfg)
}

// Postgres opens a postgres:// or postgresql:// URL.
func Postgres(ctx context.Context, u *url.URL, opts store.Options) (store.Backend, error) {
	cfg, err := postgres.ParseURL(u)
	if err != nil {
		return nil, err
	}
	cfg.Logger = opts.Logger
	return postgres.New(ctx, cfg)
}

// HTTP opens an http:// or https:// account server URL.
func HTTP(ctx context.Context, u *url.URL, opts store.Options) (store.Backend, error) {
	cfg, err := httpstore.ParseURL(u)
	if err != nil {
		return nil, err
	}
	cfg.Logger = opts.Logger
	return httpstore.New(ctx, cfg)
}
