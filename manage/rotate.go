package manage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// RotationOptions steer a signing-key rotation run by the core.
type RotationOptions struct {
	// Key is the signing key to retire (public key, or a scoped account
	// key's role); empty: the only one.
	Key string
	// KeepOld stops an account rotation before the old key is removed.
	KeepOld bool
	// Conn is a system-account connection to the cluster: every server is
	// checked at each step. Without it the core waits Settle for servers
	// to read the store.
	Conn   *nats.Conn
	Remote Remote // TLS for the probes
	// Settle (without Conn), Timeout (with Conn) and Gather (operator
	// rotation: how long to wait for more servers to answer).
	Settle, Timeout, Gather time.Duration
	// ServersRestarted says, without Conn, that every server runs with
	// the new operator JWT (operator rotation, second run).
	ServersRestarted bool
	// Resume is the command that resumes the rotation, for messages.
	Resume string
	// Say receives lines for people; Results the deliveries of each
	// publish. Either may be nil.
	Say     func(format string, args ...any)
	Results func(*Result)
}

func (o RotationOptions) say(format string, args ...any) {
	if o.Say != nil {
		o.Say(format, args...)
	}
}

func (o RotationOptions) result(r *Result) {
	if o.Results != nil && r != nil {
		o.Results(r)
	}
}

// PausedError says a rotation stopped between steps: it is recorded in the
// home, and running it again resumes it.
type PausedError struct {
	Err    error
	Resume string
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("%v\nthe rotation is paused and recorded in the home; fix the problem and run %s again to resume", e.Err, e.Resume)
}

func (e *PausedError) Unwrap() error { return e.Err }

// await waits until every server accepts (or refuses) the probe's key;
// without a connection it waits Settle for them to read the store.
func (o RotationOptions) await(ctx context.Context, p Probe, accept bool) error {
	if o.Conn == nil {
		o.say("  no --server: natsauth cannot see the servers; waiting %s for them to read the store\n", o.Settle)
		select {
		case <-time.After(o.Settle):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n, err := AwaitProbe(ctx, o.Conn, o.Remote, p, accept, o.Timeout)
	if err != nil {
		return err
	}
	want := map[bool]string{true: "accept", false: "refuse"}[accept]
	o.say("  all %d servers %s users signed by %s\n", n, want, p.Key)
	return nil
}

// RotateAccountSigningKey replaces an account signing key in three steps
// (see BeginAccountKeyRotation), waiting between them until the servers
// apply each; a failure pauses it (*PausedError), and running it again
// resumes it.
func (m *Manager) RotateAccountSigningKey(ctx context.Context, account string, o RotationOptions) error {
	paused := func(err error) error { return &PausedError{Err: err, Resume: o.Resume} }
	r, acc, resumed, res, err := m.BeginAccountKeyRotation(ctx, account, o.Key)
	if r == nil {
		return err
	}
	if resumed {
		o.say("resuming the rotation of account %s started %s\n", account, r.Started.Format(time.RFC3339))
	}
	what := "signing key " + r.Old
	if r.IdentityKey {
		what = "identity key " + r.Old + " (it stays: it is the account; its users move to the new signing key)"
	}
	o.say("step 1/3: account %s lists the new signing key %s beside the %s\n", account, r.New, what)
	o.result(res)
	if err != nil {
		return paused(err)
	}
	fresh, err := m.NewProbe(acc, r.New)
	if err != nil {
		return paused(err)
	}
	if err := o.await(ctx, fresh, true); err != nil {
		return paused(err)
	}
	users, err := m.ReissueAccountUsers(ctx, r)
	if err != nil {
		return paused(err)
	}
	o.say("step 2/3: re-issued %d users signed by the old key\n", len(users))
	for _, u := range users {
		if u.CredsWritten {
			o.say("  %-20s creds rewritten: %s\n", u.Name, m.home.CredsPath(u.Account, u.Name))
		} else {
			o.say("  %-20s no seed here: give its holder the new JWT (natsauth describe user -a %s -n %s --raw)\n",
				u.Name, u.Account, u.Name)
		}
	}
	if o.KeepOld {
		o.say("the old key stays until you run %s again (--keep-old): hand out the re-issued creds first\n", o.Resume)
		return nil
	}
	var stale Probe
	if !r.IdentityKey {
		// Minted while the old seed is still here: once servers refuse it,
		// they refuse every user the old key signed.
		if stale, err = m.NewProbe(acc, r.Old); err != nil {
			return paused(err)
		}
	}
	_, res, err = m.FinishAccountKeyRotation(ctx, r)
	if r.IdentityKey && err == nil {
		o.say("step 3/3: the users of %s are signed by %s; the rotation is done\n", account, r.New)
		return nil
	}
	if res == nil {
		return paused(err)
	}
	o.say("step 3/3: removed the old key %s from account %s and deleted its seed\n", r.Old, account)
	o.result(res)
	if err != nil {
		return err
	}
	if err := o.await(ctx, stale, false); err != nil {
		return fmt.Errorf("the rotation is done in the home and the store, but: %w", err)
	}
	o.say("done: creds signed by %s are refused from now on\n", r.Old)
	return nil
}

// RotateOperatorSigningKey replaces the operator signing key: the first
// run adds the new key (servers must then restart with the new operator
// JWT); the second re-signs the accounts and removes the old key.
func (m *Manager) RotateOperatorSigningKey(ctx context.Context, o RotationOptions) error {
	paused := func(err error) error { return &PausedError{Err: err, Resume: o.Resume} }
	r, resumed, err := m.BeginOperatorKeyRotation(ctx, o.Key)
	if err != nil {
		return err
	}
	if !resumed {
		o.say("step 1/3: operator %s lists the new signing key %s beside %s\n", m.home.OperatorName(), r.New, r.Old)
		o.say("next: restart every server with the new operator JWT (%s), then run %s again\n"+
			"  (with --server URL natsauth checks that the servers trust the new key; or pass --servers-restarted)\n",
			m.home.OperatorJWTPath(), o.Resume)
		if o.Conn != nil {
			if missing, n, err := ServersMissingKey(ctx, o.Conn, o.Gather, r.New); err == nil {
				o.say("  %d of %d servers that answered do not trust the new key yet\n", len(missing), n)
			}
		}
		return nil
	}
	o.say("resuming the rotation of operator signing key %s started %s\n", r.Old, r.Started.Format(time.RFC3339))
	switch {
	case o.Conn != nil:
		missing, n, err := ServersMissingKey(ctx, o.Conn, o.Gather, r.New)
		if err != nil {
			return paused(err)
		}
		if len(missing) > 0 {
			return paused(fmt.Errorf("servers %s do not trust the new key %s yet: restart them with the new operator JWT (%s)",
				strings.Join(missing, ", "), r.New, m.home.OperatorJWTPath()))
		}
		o.say("step 2/3: all %d servers that answered trust the new key\n", n)
	case !o.ServersRestarted:
		return paused(errors.New("natsauth cannot see the servers: restart every server with the new operator JWT, " +
			"then run again with --servers-restarted, or with --server URL to let natsauth check"))
	default:
		o.say("step 2/3: servers restarted with the new operator JWT (--servers-restarted)\n")
	}
	accs, res, err := m.ReissueAccounts(ctx, r)
	for _, acc := range accs {
		o.say("  re-signed account %s with %s\n", acc.Name, r.New)
	}
	o.result(res)
	if err != nil {
		return paused(err)
	}
	if err := m.FinishOperatorKeyRotation(ctx, r); err != nil {
		return paused(err)
	}
	o.say("step 3/3: removed %s from the operator and deleted its seed\n", r.Old)
	o.say("next: restart every server again with the new operator JWT (%s): until then they still trust %s\n",
		m.home.OperatorJWTPath(), r.Old)
	return nil
}
