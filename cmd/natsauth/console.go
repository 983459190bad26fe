package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/clidoc"
	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/manage"
)

func init() { register("", newConsoleCmd) }

// consoleFlags are the flags of `natsauth console`.
type consoleFlags struct {
	listen    string
	servers   []string
	creds     string
	tlsCert   string
	tlsKey    string
	initAdmin string
}

func newConsoleCmd(a *app) *cobra.Command {
	var f consoleFlags
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the HTTP API and web console over the home",
		Long: `Serve the HTTP API (JSON, described at /api/openapi.json) and the web console for the
home: accounts, users, creds, revocations, live connections, auth failures and the audit
log. Every change goes through the management core, like a CLI command: validated,
audited with the console user as actor, published to the home's servers.

Console users sign in with a password (natsauth console user add bootstraps the first
operator admin; --init-admin makes one when there is none and prints its password once).
Live state comes from the running servers over the system account: the home's running
natsauth serve, or --server.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{clidoc.AnnotationRunnable: "yes"},
		RunE:        func(cmd *cobra.Command, _ []string) error { return a.runConsole(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to serve the console on")
	fl.StringSliceVar(&f.servers, "server", nil, "NATS URL of a server for live state (default: the home's running natsauth serve)")
	fl.StringVar(&f.creds, "creds", "", "creds of a system-account user (default: the home's system user)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "certificate file: serve the console over HTTPS (cookies then Secure)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key file of --tls-cert")
	fl.StringVar(&f.initAdmin, "init-admin", "", "when there is no console user yet, make this operator admin and print its password once")
	cmd.AddCommand(newConsoleUserCmd(a), newConsoleTokenCmd(a))
	return cmd
}

func (a *app) runConsole(ctx context.Context, f consoleFlags) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	return a.withAccess(ctx, func(ad console.Admin) error { return a.listenConsole(ctx, f, ad) })
}

// listenConsole serves the console until ctx ends.
func (a *app) listenConsole(ctx context.Context, f consoleFlags, ad console.Admin) error {
	l, pw, err := ad.Listen(ctx, manage.Remote{Servers: f.servers, Creds: f.creds}, f.initAdmin, f.listen, f.tlsCert, f.tlsKey, a.logger())
	if pw != "" {
		fmt.Fprintf(a.out, "made console user %s (operator-admin); its password, shown only now: %s\n", f.initAdmin, pw)
	}
	if errors.Is(err, console.ErrNoUsers) {
		return errors.New("there is no console user yet: run natsauth console user add NAME --role operator-admin, " +
			"or start with --init-admin NAME")
	}
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(a.out, "natsauth console on %s (users: %s)\n", l.URL(), ad.Access.Where())
	<-ctx.Done()
	return nil
}

type consoleUserFlags struct {
	role, account string
	passwordStdin bool
	json          bool
}

func newConsoleUserCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage console users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}

	var add consoleUserFlags
	addCmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a console user (prints a generated password once unless --password-stdin)",
		Example: `  natsauth console user add admin --role operator-admin
  natsauth console user add ops --role operator-observer
  echo "$PW" | natsauth console user add team-a --role account-admin --account MyAccount --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd.Context(), func(ad console.Admin) error {
				role := access.Role(add.role)
				if err := ad.CheckScope(role, add.account); err != nil {
					return fmt.Errorf("--account: %w", err)
				}
				return a.withPassword(cmd.InOrStdin(), add.passwordStdin, func(pw string) error {
					u, err := ad.AddUser(cmd.Context(), args[0], role, add.account, pw, "")
					if err == nil {
						fmt.Fprintf(a.out, "added console user %s\n", u.Label())
					}
					return err
				})
			})
		},
	}
	addCmd.Flags().StringVar(&add.role, "role", "", "operator-admin, operator-observer, account-admin or account-observer")
	addCmd.Flags().StringVar(&add.account, "account", "", "the account an account role is scoped to")
	addCmd.Flags().BoolVar(&add.passwordStdin, "password-stdin", false, "read the password from standard input")

	var pf consoleUserFlags
	passwdCmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a console user's password (ends its sessions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd.Context(), func(ad console.Admin) error {
				return a.withPassword(cmd.InOrStdin(), pf.passwordStdin, func(pw string) error {
					err := ad.SetPassword(cmd.Context(), args[0], pw)
					if err == nil {
						fmt.Fprintf(a.out, "password of %s changed\n", args[0])
					}
					return err
				})
			})
		},
	}
	passwdCmd.Flags().BoolVar(&pf.passwordStdin, "password-stdin", false, "read the password from standard input")

	rmCmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a console user with its sessions and API tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd.Context(), func(ad console.Admin) error {
				u, err := ad.DeleteUser(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "removed console user %s\n", u.Label())
				return nil
			})
		},
	}

	var lf consoleUserFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List console users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAccess(cmd.Context(), func(ad console.Admin) error {
				us, err := ad.Access.Users(cmd.Context())
				if err != nil {
					return err
				}
				return access.WriteUsers(a.out, us, lf.json)
			})
		},
	}
	listCmd.Flags().BoolVar(&lf.json, "json", false, "print JSON")
	cmd.AddCommand(addCmd, passwdCmd, rmCmd, listCmd)
	return cmd
}

func newConsoleTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens of console users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	var user, name string
	var ttl time.Duration
	addCmd := &cobra.Command{
		Use:     "add",
		Short:   "Make an API token for a console user and print it once",
		Example: `  natsauth console token add --user admin --name ci --ttl 720h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAccess(cmd.Context(), func(ad console.Admin) error {
				secret, tok, err := ad.NewToken(cmd.Context(), user, name, ttl)
				if err != nil {
					return consoleFieldErr(err)
				}
				fmt.Fprintf(a.out, "token %s for %s (shown only now; send it as Authorization: Bearer ...):\n%s\n", tok.ID, user, secret)
				return nil
			})
		},
	}
	addCmd.Flags().StringVar(&user, "user", "", "console user the token acts as")
	addCmd.Flags().StringVar(&name, "name", "", "what the token is for")
	addCmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime (0: no expiry)")
	cmd.AddCommand(addCmd)
	return cmd
}

// withAccess opens the core and the console users for one command.
func (a *app) withAccess(ctx context.Context, fn func(console.Admin) error) error {
	return a.withManager(func(m *manage.Manager) error {
		ad, err := console.OpenAdmin(ctx, m)
		if err != nil {
			return err
		}
		defer ad.Access.Close()
		return fn(ad)
	})
}

// withPassword reads the password from in (--password-stdin) or makes
// one, and calls fn with it; a made password is shown once fn succeeded.
// fn's field errors name the flags.
func (a *app) withPassword(in io.Reader, fromStdin bool, fn func(pw string) error) error {
	var pw string
	var err error
	if fromStdin {
		if pw, err = password.ReadLine(in); err != nil {
			return fmt.Errorf("read the password: %w", err)
		}
	} else if pw, err = access.NewPassword(); err != nil {
		return err
	}
	if err := fn(pw); err != nil {
		return consoleFieldErr(err)
	}
	if !fromStdin {
		fmt.Fprintf(a.out, "password (shown only now): %s\n", pw)
	}
	return nil
}

// consoleFieldErr turns field errors into flag-named problems.
func consoleFieldErr(err error) error {
	var fe access.FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	return fe.Relabel(func(field string) string {
		if field == "name" {
			return "NAME"
		}
		return "--" + field
	})
}
