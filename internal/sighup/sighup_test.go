//go:build unix

package sighup

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Each SIGHUP calls reload; the end of the context returns.
func TestUntil(t *testing.T) {
	// A SIGHUP sent before Until listens must not end the test binary.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	ctx, cancel := context.WithCancel(context.Background())
	reloads := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(ctx, func() { reloads <- struct{}{} })
	}()
	for i := range 2 {
		deadline := time.After(5 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
	wait:
		for {
			select {
			case <-reloads:
				break wait
			case <-deadline:
				t.Fatalf("reload %d: not called", i+1)
			case <-tick.C:
				if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
		}
		tick.Stop()
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Until did not return when the context ended")
	}
}
