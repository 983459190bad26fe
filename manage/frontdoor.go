package manage

import (
	"context"
	"errors"

	"github.com/natsauth/natsauth/audit"
)

// Audit actions of the console's own users and API tokens.
const (
	ActionAddConsoleUser    = "add console user"
	ActionEditConsoleUser   = "edit console user"
	ActionDeleteConsoleUser = "delete console user"
	ActionAddAPIToken       = "add api token"
	ActionDeleteAPIToken    = "delete api token"
)

// RecordAccessChange records a change a front door made to its own access
// control — a console user added, its role or password changed, an API
// token made or deleted — in the home's audit log, with the actor from the
// context. detail names what changed and never holds a password or token.
// The change itself is the front door's (console/access); the record is
// the core's, so that one audit log says who changed what.
func (m *Manager) RecordAccessChange(ctx context.Context, action, detail string) error {
	if action == "" {
		return errors.New("record access change: no action")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	log, err := m.auditLog(ctx)
	if err != nil {
		return err
	}
	return log.Append(ctx, audit.Attribute(ctx, audit.Entry{Action: action, Detail: detail}))
}
