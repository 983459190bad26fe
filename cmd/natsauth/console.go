package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/console"
	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/internal/clidoc"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/serving"
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

// openAccess opens the console users kept with the manager's store.
func openAccess(ctx context.Context, m *manage.Manager) (*access.Access, error) {
	return access.Open(ctx, m.Home().Dir(), m.StoreURL(), access.Options{})
}

func (a *app) runConsole(ctx context.Context, f consoleFlags) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	acc, err := openAccess(ctx, m)
	if err != nil {
		return err
	}
	defer acc.Close()
	if err := a.ensureAdmin(ctx, m, acc, f.initAdmin); err != nil {
		return err
	}
	remote := manage.Remote{Servers: f.servers, Creds: f.creds}
	if err := remote.Check(); err != nil {
		return err
	}
	connect := func(ctx context.Context) (*nats.Conn, error) {
		urls := f.servers
		if len(urls) == 0 {
			srvs, err := serving.List(m.Home().Dir())
			if err != nil {
				return nil, err
			}
			for _, s := range srvs {
				if s.ClientURL != "" {
					urls = append(urls, s.ClientURL)
				}
			}
		}
		if len(urls) == 0 {
			return nil, errors.New("no running natsauth serve of this home and no --server")
		}
		var errs []error
		for _, u := range urls {
			nc, err := manage.ConnectSystem(m.Home(), remote, u, "natsauth console")
			if err == nil {
				return nc, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	stop, addr, err := startConsole(ctx, m, acc, connect, f.listen, f.tlsCert, f.tlsKey, a.logger())
	if err != nil {
		return err
	}
	defer stop()
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(a.out, "natsauth console on %s://%s (users: %s)\n", scheme, addr, acc.Where())
	<-ctx.Done()
	return nil
}

// startConsole serves a console on listen until stop is called.
func startConsole(ctx context.Context, m *manage.Manager, acc *access.Access, connect func(context.Context) (*nats.Conn, error),
	listen, certFile, keyFile string, log *slog.Logger) (stop func(), addr string, err error) {
	srv, err := console.New(console.Config{Manager: m, Access: acc, Connect: connect, Secure: certFile != "", Logger: log})
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("console: listen on %s: %w", listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("console: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		return nil, "", err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("console stopped", "error", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
		srv.Close()
	}, ln.Addr().String(), nil
}

// ensureAdmin refuses to serve without console users, unless --init-admin
// names the first operator admin to make.
func (a *app) ensureAdmin(ctx context.Context, m *manage.Manager, acc *access.Access, name string) error {
	users, err := acc.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	if name == "" {
		return errors.New("there is no console user yet: run natsauth console user add NAME --role operator-admin, " +
			"or start with --init-admin NAME")
	}
	pw, err := newPassword()
	if err != nil {
		return err
	}
	u, err := acc.AddUser(ctx, name, access.OperatorAdmin, "", pw)
	if err != nil {
		return err
	}
	if err := m.RecordAccessChange(ctx, manage.ActionAddConsoleUser, u.Label()+" (--init-admin)"); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "made console user %s (operator-admin); its password, shown only now: %s\n", name, pw)
	return nil
}

func newPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
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
			return a.withAccess(cmd.Context(), func(m *manage.Manager, acc *access.Access) error {
				role := access.Role(add.role)
				if role.Scoped() && add.account != "" {
					if _, err := m.Home().Account(add.account); err != nil {
						return fmt.Errorf("--account: %w", err)
					}
				}
				pw, shown, err := readOrMakePassword(cmd.InOrStdin(), add.passwordStdin)
				if err != nil {
					return err
				}
				u, err := acc.AddUser(cmd.Context(), args[0], role, add.account, pw)
				if err != nil {
					return consoleFieldErr(err)
				}
				if err := m.RecordAccessChange(cmd.Context(), manage.ActionAddConsoleUser, u.Label()); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "added console user %s\n", u.Label())
				if shown {
					fmt.Fprintf(a.out, "password (shown only now): %s\n", pw)
				}
				return nil
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
			return a.withAccess(cmd.Context(), func(m *manage.Manager, acc *access.Access) error {
				pw, shown, err := readOrMakePassword(cmd.InOrStdin(), pf.passwordStdin)
				if err != nil {
					return err
				}
				if err := acc.SetPassword(cmd.Context(), args[0], pw); err != nil {
					return consoleFieldErr(err)
				}
				if err := m.RecordAccessChange(cmd.Context(), manage.ActionEditConsoleUser, args[0]+": password changed"); err != nil {
					return err
				}
				fmt.Fprintf(a.out, "password of %s changed\n", args[0])
				if shown {
					fmt.Fprintf(a.out, "password (shown only now): %s\n", pw)
				}
				return nil
			})
		},
	}
	passwdCmd.Flags().BoolVar(&pf.passwordStdin, "password-stdin", false, "read the password from standard input")

	rmCmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a console user with its sessions and API tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd.Context(), func(m *manage.Manager, acc *access.Access) error {
				u, err := acc.User(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if err := acc.DeleteUser(cmd.Context(), args[0]); err != nil {
					return err
				}
				if err := m.RecordAccessChange(cmd.Context(), manage.ActionDeleteConsoleUser, u.Label()); err != nil {
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
			return a.withAccess(cmd.Context(), func(_ *manage.Manager, acc *access.Access) error {
				us, err := acc.Users(cmd.Context())
				if err != nil {
					return err
				}
				if lf.json {
					for i := range us {
						us[i].PasswordHash = ""
					}
					return writeJSONOut(a.out, us)
				}
				tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tACCOUNT\tCREATED")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Account, u.Created.Local().Format("2006-01-02 15:04"))
				}
				return tw.Flush()
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
			return a.withAccess(cmd.Context(), func(m *manage.Manager, acc *access.Access) error {
				secret, tok, err := acc.NewToken(cmd.Context(), user, name, ttl)
				if err != nil {
					return consoleFieldErr(err)
				}
				if err := m.RecordAccessChange(cmd.Context(), manage.ActionAddAPIToken,
					fmt.Sprintf("token %s %q of %s", tok.ID, tok.Name, user)); err != nil {
					return err
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
func (a *app) withAccess(ctx context.Context, fn func(*manage.Manager, *access.Access) error) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	acc, err := openAccess(ctx, m)
	if err != nil {
		return err
	}
	defer acc.Close()
	return fn(m, acc)
}

// readOrMakePassword reads one line from in, or makes a password to show.
func readOrMakePassword(in io.Reader, fromStdin bool) (pw string, show bool, err error) {
	if !fromStdin {
		pw, err := newPassword()
		return pw, true, err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

// consoleFieldErr turns field errors into flag-named problems.
func consoleFieldErr(err error) error {
	var fe access.FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	var parts []string
	for _, e := range fe {
		flag := "--" + e.Field
		if e.Field == "name" {
			flag = "NAME"
		}
		parts = append(parts, flag+": "+e.Detail)
	}
	return errors.New(strings.Join(parts, "; "))
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// serveConsole runs the console inside `natsauth serve --console ADDR`:
// live state from this node, TLS with the node's certificate.
func (a *app) serveConsole(ctx context.Context, n *node.Node, f serveFlags) (func(), error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	acc, err := openAccess(ctx, m)
	if err != nil {
		m.Close()
		return nil, err
	}
	users, err := acc.Users(ctx)
	if err == nil && len(users) == 0 {
		fmt.Fprintln(a.errOut, "console: there is no console user yet; add one with natsauth console user add NAME --role operator-admin")
	}
	connect := func(context.Context) (*nats.Conn, error) {
		return manage.ConnectSystem(m.Home(), manage.Remote{TLSCA: f.server.TLSCA}, n.ClientURL(), "natsauth console")
	}
	stop, addr, err := startConsole(ctx, m, acc, connect, f.console, f.server.TLSCert, f.server.TLSKey, a.logger())
	if err != nil {
		acc.Close()
		m.Close()
		return nil, err
	}
	scheme := "http"
	if f.server.TLSCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(a.out, "natsauth console on %s://%s\n", scheme, addr)
	return func() {
		stop()
		acc.Close()
		m.Close()
	}, nil
}
