package manage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/serving"
)

// ActionTakeCreds is the audit action of a creds file handed out by
// TakeCreds.
const ActionTakeCreds = "download creds"

// ErrCredsTaken means the creds of the user's current JWT were handed out
// already: re-issue the user (EditUser) to hand out new ones.
var ErrCredsTaken = errors.New("the creds file of this user JWT was downloaded already")

// ErrNoCreds means the home holds no creds for the user (a user issued for
// a public key whose seed is kept elsewhere).
var ErrNoCreds = errors.New("the home holds no creds file for this user")

// TakeCreds hands out a user's creds file (JWT and seed) once per user JWT
// to a remote front door (the console): the first call returns it and
// records who took it in the audit log; later calls for the same JWT fail
// with ErrCredsTaken, so a leaked session cannot fetch the seed again
// unnoticed. The home keeps its creds file for local use (natsauth
// generate creds).
func (m *Manager) TakeCreds(ctx context.Context, account, user string) ([]byte, error) {
	var creds []byte
	_, err := m.run(ctx, func(c *change) error {
		u, err := m.home.User(account, user)
		if err != nil {
			return err
		}
		log, err := m.auditLog(ctx)
		if err != nil {
			return err
		}
		past, err := log.Read(ctx, audit.Query{Account: u.AccountPub})
		if err != nil {
			return fmt.Errorf("take creds of %s: %w", user, err)
		}
		// A jti is a hash of the standard claims only, the same for a user
		// re-issued within a second: the whole JWT's fingerprint tells.
		mark := "user JWT " + serving.Fingerprint(u.JWT)
		for _, e := range past {
			if e.Action == ActionTakeCreds && e.User == u.Pub && strings.Contains(e.Detail, mark) {
				return fmt.Errorf("take creds of %s: %w (by %s at %s)", user, ErrCredsTaken,
					who(e), e.Time.Format("2006-01-02 15:04:05 MST"))
			}
		}
		b, err := os.ReadFile(m.home.CredsPath(account, user))
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("take creds of %s: %w", user, ErrNoCreds)
		}
		if err != nil {
			return fmt.Errorf("take creds of %s: read the creds file: %w", user, err)
		}
		creds = b
		e := userEntry(ActionTakeCreds, nil, u, "creds file handed out once, "+mark)
		e.Signer = ""
		c.audit(e)
		return nil
	})
	return creds, err
}

func who(e audit.Entry) string {
	switch {
	case e.Principal != "":
		return e.Principal
	case e.Remote != "":
		return e.Remote
	}
	return e.OSUser
}
