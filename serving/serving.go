// Package serving knows where the servers of a natsauth home read account
// JWTs: the one rule that picks a store, and the registry in which every
// `natsauth serve` started from a home records itself, so that a change
// made by any front door (CLI, console, apply) reaches every server that
// serves the home — and so that the front door can tell which ones applied
// it.
//
// A running node keeps HOME/run/<id>.json (what it serves, where it reads
// account JWTs) and touches it every few seconds. It watches the home's
// account JWT files and, after applying a change to its store and to the
// running nats-server, writes an acknowledgement HOME/run/<id>/<account>
// naming the JWT it processed. A front door waits for those.
package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultStoreFile is the embedded default store's file in a home.
const DefaultStoreFile = "accounts.db"

// DefaultStoreURL is the embedded default store of a home: SQLite in
// HOME/accounts.db.
func DefaultStoreURL(home string) string {
	return "sqlite://" + filepath.ToSlash(filepath.Join(home, DefaultStoreFile))
}

// Source says where a store URL came from.
type Source string

// Sources of a store URL, in the order PickStore prefers them.
const (
	FromFlag    Source = "flag"    // --store or NATSAUTH_STORE
	FromConfig  Source = "config"  // the resolver of a nats-server.conf
	FromDefault Source = "default" // the home's embedded SQLite store
)

// PickStore is the one rule that picks the account-JWT store of a home: an
// explicit URL (--store, NATSAUTH_STORE), else the store a nats-server.conf's
// resolver maps to, else the home's default SQLite store.
func PickStore(explicit, fromConfig, home string) (string, Source) {
	switch {
	case explicit != "":
		return explicit, FromFlag
	case fromConfig != "":
		return fromConfig, FromConfig
	}
	return DefaultStoreURL(home), FromDefault
}

// Fingerprint names one exact JWT in acknowledgements: the hex SHA-256 of
// the trimmed token. (A jti does not do: nats-io/jwt derives it from the
// standard claims, so two JWTs issued within one second may share it.)
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hex.EncodeToString(sum[:16])
}

// Deleted is the fingerprint acknowledged for an account removed from the
// home.
const Deleted = "deleted"

// Home picks the home directory: flag (--home), else $NATSAUTH_HOME, else
// $XDG_DATA_HOME/natsauth (~/.local/share/natsauth), as an absolute path.
func Home(flag string) (string, error) {
	h := flag
	if h == "" {
		h = os.Getenv("NATSAUTH_HOME")
	}
	if h == "" {
		base := os.Getenv("XDG_DATA_HOME")
		if base == "" {
			u, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find home directory: %w (set --home or NATSAUTH_HOME)", err)
			}
			base = filepath.Join(u, ".local", "share")
		}
		h = filepath.Join(base, "natsauth")
	}
	return filepath.Abs(h)
}

// ExplicitStore is the store named by flag (--store), else $NATSAUTH_STORE,
// or "" for the rule of PickStore.
func ExplicitStore(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("NATSAUTH_STORE")
}
