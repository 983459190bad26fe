package sysevents

import (
	"context"
	"fmt"
	"io"

	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/store"
)

// Watch is what `natsauth events` runs: follow the events of the servers
// at URL as the system-account user whose creds file is Creds.
type Watch struct {
	URL, Creds string
	// Dial names the connection and sets its TLS; Run sets its handlers.
	Dial DialOptions
	// Out gets every event (Printer, as JSON with JSON); Status gets
	// warnings and what happens to the connection.
	Out, Status io.Writer
	JSON        bool
}

// Run follows until ctx ends; it fails when the creds cannot be read or
// the servers cannot be reached or subscribed to.
func (w Watch) Run(ctx context.Context) error {
	creds, err := claims.LoadCreds(w.Creds)
	if err != nil {
		return err
	}
	if creds.Loose() {
		fmt.Fprintf(w.Status, "warning: %s is readable by other users (mode %v): chmod 600 %s\n", w.Creds, creds.Mode(), w.Creds)
	}
	w.Dial.OnDisconnect = func(err error) { fmt.Fprintf(w.Status, "disconnected: %v (reconnecting)\n", err) }
	w.Dial.OnReconnect = func(url string) { fmt.Fprintf(w.Status, "reconnected to %s\n", store.Redact(url)) }
	nc, err := Dial(w.URL, creds.Option(), w.Dial)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop, err := Follow(nc, Printer(w.Out, w.JSON))
	if err != nil {
		return fmt.Errorf("%s: %w", store.Redact(w.URL), err)
	}
	defer stop()
	fmt.Fprintf(w.Status, "following events on %s (Ctrl-C to stop)\n", store.Redact(nc.ConnectedUrl()))
	<-ctx.Done()
	return nil
}
