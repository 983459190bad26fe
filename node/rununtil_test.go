//go:build unix

package node

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// RunUntil reloads on SIGHUP, runs what else reloads, and returns when
// its context ends.
func TestNodeRunUntil(t *testing.T) {
	f := newFixture(t)
	n := startNode(t, f.config(t))
	hup := make(chan os.Signal, 1) // SIGHUP must never end the test process
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, cancel := context.WithCancel(context.Background())
	reloaded := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		n.RunUntil(ctx, func() { reloaded <- struct{}{} })
		close(done)
	}()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		// RunUntil may not be listening yet: send until it hears one.
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reloaded:
			waiting = false
		case <-tick.C:
		case <-deadline:
			t.Fatal("SIGHUP did not reload")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunUntil did not return after its context ended")
	}
}
