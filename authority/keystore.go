package authority

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nats-io/nkeys"
)

// readKey loads the key pair whose public key is pub from the keystore.
// Error messages name the public key and the path, never the seed.
func (h *Home) readKey(pub string) (nkeys.KeyPair, error) {
	if _, err := nkeys.FromPublicKey(pub); err != nil {
		return nil, fmt.Errorf("read key %.60q: not a public key: %w", pub, ErrInvalid)
	}
	p := h.keyPath(pub)
	seed, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key %s: no seed in the keystore (%s): %w", pub, p, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", pub, err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %s does not hold a valid seed", pub, p)
	}
	got, err := kp.PublicKey()
	if err != nil || got != pub {
		return nil, fmt.Errorf("read key %s: %s holds the seed of another key", pub, p)
	}
	return kp, nil
}

// stageKey schedules writing kp's seed into the keystore and returns its
// public key.
func (h *Home) stageKey(t *txn, kp nkeys.KeyPair) (string, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("store key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("store key %s: %w", pub, err)
	}
	t.put(h.keyPath(pub), seed)
	return pub, nil
}

func pubKey(kp nkeys.KeyPair) string {
	p, err := kp.PublicKey()
	if err != nil {
		// A key pair made by nkeys.Create* always has a public key.
		panic("authority: key pair without public key: " + err.Error())
	}
	return p
}
