// Package sighup is the reload loop of natsauth's long-running commands
// (serve, demo, callout): SIGHUP reloads, the end of the context (SIGINT or
// SIGTERM in main) stops.
package sighup

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Until calls reload for every SIGHUP the process gets, one at a time,
// until ctx ends. While it runs, SIGHUP no longer ends the process.
func Until(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload()
		}
	}
}
