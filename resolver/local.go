package resolver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/natsauth/natsauth/trust"
)

// DefaultLocalCopyMaxBytes bounds a LocalCopy's JWT bytes: 1 GiB, about
// 1.5 million accounts of typical size.
const DefaultLocalCopyMaxBytes = 1 << 30

// localOpenTimeout is how long OpenLocalCopy waits for another process
// that holds the file.
const localOpenTimeout = time.Second

// ErrLocalCopyInUse means another process has the local copy open.
var ErrLocalCopyInUse = errors.New("resolver: local copy is in use by another process")

var (
	bucketAccounts = []byte("accounts")
	bucketMeta     = []byte("meta")
	keyBytes       = []byte("bytes")
	keyCount       = []byte("count")
	keyVersion     = []byte("version")
)

// localVersion is the format of the values in bucketAccounts.
const localVersion = 1

// LocalCopyOptions configure a LocalCopy.
type LocalCopyOptions struct {
	// MaxBytes bounds the JWT bytes kept (DefaultLocalCopyMaxBytes when
	// zero). Accounts that would go past it are not copied (logged); they
	// are still served from the store.
	MaxBytes int64
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// LocalCopy is a last-known-good copy, on local disk, of every account JWT
// of a store: a Resolver given one (Options.Local) keeps it current from
// the store's watch, brings it up to date with one pass over the store
// when its watch (re)starts or resets, serves first connects from it while
// it is known current, and falls back to it for any account while the
// store is unreachable — also right after a restart during an outage. It
// is what a stock `full` resolver's directory is to that resolver.
//
// It is one file (a bbolt B+tree): opening it reads nothing, so a copy of
// 100,000 accounts opens as fast as an empty one, and a read is a lookup in
// a memory-mapped file. One process at a time may have it open. The caller
// owns it: open it before the Resolver starts, close it after the Resolver
// is closed.
type LocalCopy struct {
	db       *bolt.DB
	path     string
	maxBytes int64
	log      *slog.Logger
	bytes    atomic.Int64
	count    atomic.Int64
	full     atomic.Bool // a put was refused for size since the last sync
}

// OpenLocalCopy opens (creating it 0600, its directory 0700, if absent)
// the local copy at path. It fails with ErrLocalCopyInUse when another
// process has it open, and removes and recreates a file that is not a
// local copy of this format (it is only a copy).
func OpenLocalCopy(path string, o LocalCopyOptions) (*LocalCopy, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultLocalCopyMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open local copy: %w", err)
	}
	l := &LocalCopy{path: path, maxBytes: o.MaxBytes, log: o.Logger.With("local_copy", path)}
	db, err := l.open()
	if err != nil {
		return nil, err
	}
	l.db = db
	return l, nil
}

func (l *LocalCopy) open() (*bolt.DB, error) {
	for attempt := 0; ; attempt++ {
		db, err := bolt.Open(l.path, 0o600, &bolt.Options{Timeout: localOpenTimeout, FreelistType: bolt.FreelistMapType})
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open local copy %s: %w", l.path, ErrLocalCopyInUse)
		}
		if err == nil {
			err = l.init(db)
			if err == nil {
				return db, nil
			}
			_ = db.Close()
		}
		if attempt > 0 {
			return nil, fmt.Errorf("open local copy %s: %w", l.path, err)
		}
		// Not a local copy, or damaged: it holds nothing the store does
		// not, so start again from an empty one.
		l.log.Warn("local copy unreadable: starting a new one", "err", err)
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return nil, fmt.Errorf("open local copy %s: %w (and cannot remove it: %v)", l.path, err, rerr)
		}
	}
}

// init creates the buckets of a new file and reads the totals.
func (l *LocalCopy) init(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		accs, err := tx.CreateBucketIfNotExists(bucketAccounts)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			if err := meta.Put(keyVersion, u64(localVersion)); err != nil {
				return err
			}
		case len(v) != 8 || binary.BigEndian.Uint64(v) != localVersion:
			return fmt.Errorf("local copy format %x, want %d", v, localVersion)
		}
		if v := meta.Get(keyBytes); len(v) == 8 {
			l.bytes.Store(int64(binary.BigEndian.Uint64(v)))
		}
		if v := meta.Get(keyCount); len(v) == 8 {
			l.count.Store(int64(binary.BigEndian.Uint64(v)))
		} else if accs.Stats().KeyN != 0 {
			return errors.New("local copy has no account count")
		}
		return nil
	})
}

// Path returns the file of the local copy.
func (l *LocalCopy) Path() string { return l.path }

// Len returns how many accounts the local copy holds.
func (l *LocalCopy) Len() int { return int(l.count.Load()) }

// Bytes returns the JWT bytes the local copy holds.
func (l *LocalCopy) Bytes() int64 { return l.bytes.Load() }

// Get returns the copied JWT of account.
func (l *LocalCopy) Get(account string) (string, bool) {
	var tok string
	_ = l.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketAccounts).Get([]byte(account)); v != nil {
			if _, _, t, ok := decodeLocal(v); ok {
				tok = t
			}
		}
		return nil
	})
	return tok, tok != ""
}

// Close closes the file.
func (l *LocalCopy) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close local copy: %w", err)
	}
	return nil
}

// localEntry is what the copy knows of one account without its JWT.
type localEntry struct {
	iat int64
	jti string
}

// index reads the iat and jti of every copied account.
func (l *LocalCopy) index() (map[string]localEntry, error) {
	out := make(map[string]localEntry, l.Len())
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			if iat, jti, _, ok := decodeLocal(v); ok {
				out[string(k)] = localEntry{iat: iat, jti: jti}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read local copy: %w", err)
	}
	return out, nil
}

// localOp is one change to the copy: a put of token (iat, jti), or a delete
// when token is empty.
type localOp struct {
	account string
	token   string
	iat     int64
	jti     string
}

// apply writes ops in one transaction, in order. A put that would take the
// copy past MaxBytes is dropped.
func (l *LocalCopy) apply(ops []localOp) error {
	if len(ops) == 0 {
		return nil
	}
	bytesNow, countNow := l.bytes.Load(), l.count.Load()
	dropped := 0
	err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		for _, op := range ops {
			key := []byte(op.account)
			old := b.Get(key)
			var oldLen int64
			if old != nil {
				if _, _, t, ok := decodeLocal(old); ok {
					oldLen = int64(len(t))
				}
			}
			if op.token == "" {
				if old == nil {
					continue
				}
				if err := b.Delete(key); err != nil {
					return err
				}
				bytesNow -= oldLen
				countNow--
				continue
			}
			v := encodeLocal(op.iat, op.jti, op.token)
			if old != nil && bytes.Equal(old, v) {
				continue
			}
			if grow := int64(len(op.token)) - oldLen; bytesNow+grow > l.maxBytes {
				dropped++
				continue
			}
			if err := b.Put(key, v); err != nil {
				return err
			}
			bytesNow += int64(len(op.token)) - oldLen
			if old == nil {
				countNow++
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyCount, u64(uint64(max(countNow, 0)))); err != nil {
			return err
		}
		return meta.Put(keyBytes, u64(uint64(max(bytesNow, 0))))
	})
	if err != nil {
		return fmt.Errorf("write local copy: %w", err)
	}
	l.bytes.Store(bytesNow)
	l.count.Store(countNow)
	if dropped > 0 && !l.full.Swap(true) {
		l.log.Warn("local copy is full: accounts past its size limit are served from the store only",
			"max_bytes", l.maxBytes, "dropped", dropped)
	}
	return nil
}

// encodeLocal lays out a value: iat (8 bytes), jti length (1), jti, JWT.
func encodeLocal(iat int64, jti, token string) []byte {
	if len(jti) > 255 {
		jti = jti[:255]
	}
	v := make([]byte, 0, 9+len(jti)+len(token))
	v = binary.BigEndian.AppendUint64(v, uint64(iat))
	v = append(v, byte(len(jti)))
	v = append(v, jti...)
	return append(v, token...)
}

func decodeLocal(v []byte) (iat int64, jti, token string, ok bool) {
	if len(v) < 9 {
		return 0, "", "", false
	}
	n := int(v[8])
	if len(v) < 9+n+1 || len(v)-9-n > trust.MaxJWTSize {
		return 0, "", "", false
	}
	return int64(binary.BigEndian.Uint64(v[:8])), string(v[9 : 9+n]), string(v[9+n:]), true
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
