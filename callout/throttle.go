package callout

import (
	"sync"
	"time"
)

// Throttle slows down clients whose recent connects failed. Failures are
// counted per client address over Window. From the Free-th failure on,
// every further attempt from that address waits before it is decided,
// BaseDelay doubled per failure up to MaxDelay — kept below the server's
// authentication timeout, so a person who finally types the right password
// still gets in. From Block failures on, attempts are refused at once
// without checking them (no password hashing for a guesser). A success
// clears the address.
type Throttle struct {
	Free      int
	Block     int
	Window    time.Duration
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Disabled turns throttling off.
	Disabled bool
}

// DefaultThrottle is the throttle of a gateway that sets none.
var DefaultThrottle = Throttle{Free: 5, Block: 50, Window: time.Minute, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}

// maxTracked bounds the addresses remembered; beyond it the oldest are dropped.
const maxTracked = 100_000

type throttler struct {
	cfg Throttle
	now func() time.Time

	mu    sync.Mutex
	addrs map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

func newThrottler(cfg Throttle, now func() time.Time) *throttler {
	return &throttler{cfg: cfg, now: now, addrs: map[string]*failures{}}
}

// check says how long to wait before deciding for addr, or that the
// attempt is refused outright.
func (t *throttler) check(addr string) (wait time.Duration, blocked bool) {
	if t.cfg.Disabled || addr == "" {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	if f == nil {
		return 0, false
	}
	if t.now().Sub(f.first) > t.cfg.Window {
		delete(t.addrs, addr)
		return 0, false
	}
	if f.n >= t.cfg.Block {
		return 0, true
	}
	if f.n < t.cfg.Free {
		return 0, false
	}
	d := t.cfg.BaseDelay
	for i := t.cfg.Free; i < f.n && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay), false
}

// failed counts a failure from addr.
func (t *throttler) failed(addr string) {
	if t.cfg.Disabled || addr == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.addrs[addr]
	if f == nil || now.Sub(f.first) > t.cfg.Window {
		if len(t.addrs) >= maxTracked {
			t.sweepLocked(now)
		}
		f = &failures{first: now}
		t.addrs[addr] = f
	}
	f.n++
}

// succeeded clears addr.
func (t *throttler) succeeded(addr string) {
	if t.cfg.Disabled || addr == "" {
		return
	}
	t.mu.Lock()
	delete(t.addrs, addr)
	t.mu.Unlock()
}

// sweepLocked drops expired entries, and all of them if none expired.
func (t *throttler) sweepLocked(now time.Time) {
	for a, f := range t.addrs {
		if now.Sub(f.first) > t.cfg.Window {
			delete(t.addrs, a)
		}
	}
	if len(t.addrs) >= maxTracked {
		clear(t.addrs)
	}
}
