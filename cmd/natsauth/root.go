package main

import (
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"

	// Every backend registers its URL scheme.
	_ "github.com/natsauth/natsauth/store/backends"
)

// app carries what every command needs: output streams and global flags.
// Commands write to a.out / a.errOut, never to os.Stdout, so tests can read
// their output.
type app struct {
	out, errOut io.Writer
	homeFlag    string
	storeFlag   string
	logLevel    string
	wait        time.Duration
}

// commandFactory builds one command for a parent ("" for root).
type commandFactory struct {
	parent string
	build  func(*app) *cobra.Command
}

var factories []commandFactory

// register adds a command under parent ("" for the root, or a group name
// such as "add", "edit"). Each command-group file calls it from init.
func register(parent string, build func(*app) *cobra.Command) {
	factories = append(factories, commandFactory{parent: parent, build: build})
}

// groups are the parent commands that only hold subcommands.
var groups = map[string]string{
	"add":         "Add an account, user, export, import or consumer grant",
	"edit":        "Edit an operator, account, user, signing key or export",
	"describe":    "Describe an operator, account or user",
	"list":        "List accounts, users, exports, imports or keys",
	"delete":      "Delete a user, account, export, import or consumer grant",
	"generate":    "Generate creds, activation tokens, configuration or TLS material",
	"revocations": "Manage the revocations of an account's users and activation tokens",
	"rotate":      "Rotate signing keys",
	"store":       "Work with account-JWT stores",
}

func newRootCmd(out, errOut io.Writer) *cobra.Command {
	a := &app{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "natsauth",
		Short:         "Run NATS with decentralized JWT authorization",
		Long:          "natsauth keeps an nsc-compatible operator/account/user authority, stores account JWTs,\nserves them to nats-server and runs nats-server itself with every change applied live.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every change a command makes is attributed to it in the audit log;
		// the global flags are checked before any command runs.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			withActor(cmd)
			return a.checkGlobals()
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&a.homeFlag, "home", "", "natsauth home directory (env NATSAUTH_HOME; default $XDG_DATA_HOME/natsauth)")
	pf.StringVar(&a.storeFlag, "store", "", "account-JWT store URL (env NATSAUTH_STORE; default sqlite in the home)")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.DurationVar(&a.wait, "wait", manage.DefaultApplyTimeout,
		"how long a change waits for the running servers of the home to apply it (0: do not wait)")

	parents := map[string]*cobra.Command{"": root}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := &cobra.Command{Use: n, Short: groups[n], Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
		parents[n] = g
	}
	for _, f := range factories {
		p, ok := parents[f.parent]
		if !ok {
			panic("natsauth: unknown command group " + f.parent)
		}
		p.AddCommand(f.build(a))
	}
	for _, n := range names {
		if parents[n].HasSubCommands() {
			root.AddCommand(parents[n])
		}
	}
	return root
}

// home returns the home directory from --home, NATSAUTH_HOME or the XDG
// default, as an absolute path.
func (a *app) home() (string, error) { return serving.Home(a.homeFlag) }

// explicitStoreURL is the store named by --store or NATSAUTH_STORE, or "".
func (a *app) explicitStoreURL() string { return serving.ExplicitStore(a.storeFlag) }

// logLevels are the values of --log-level.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "warning": slog.LevelWarn, "error": slog.LevelError}

// checkGlobals reports bad global flags, whatever the command.
func (a *app) checkGlobals() error {
	p := authority.NewProblems("natsauth")
	if _, ok := logLevels[strings.ToLower(a.logLevel)]; !ok {
		p.Add("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	if a.wait < 0 {
		p.Add("--wait %s: must not be negative", a.wait)
	}
	if s := a.explicitStoreURL(); s != "" {
		if err := store.CheckURL(s); err != nil {
			p.Add("--store (or NATSAUTH_STORE): %v", err)
		}
	}
	return p.Err()
}

// openHome opens the home named by --home / NATSAUTH_HOME.
func (a *app) openHome() (*authority.Home, error) {
	dir, err := a.home()
	if err != nil {
		return nil, err
	}
	return authority.Open(dir)
}

// managerConfig is the management core's configuration from the flags.
func (a *app) managerConfig() (manage.Config, error) {
	dir, err := a.home()
	if err != nil {
		return manage.Config{}, err
	}
	wait := a.wait
	if wait == 0 {
		wait = -1
	}
	return manage.Config{Home: dir, Store: a.explicitStoreURL(), Logger: a.quietLogger(), ApplyTimeout: wait}, nil
}

// manager opens the management core over the home; the caller closes it.
func (a *app) manager() (*manage.Manager, error) {
	cfg, err := a.managerConfig()
	if err != nil {
		return nil, err
	}
	return manage.Open(cfg)
}

// withManager opens the management core for fn and closes it after.
func (a *app) withManager(fn func(*manage.Manager) error) error {
	m, err := a.manager()
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(m)
}

// withAccount opens the core and picks the account -a names (or the only
// one), reporting a missing or ambiguous one with every problem in p;
// only then it calls fn.
func (a *app) withAccount(p *authority.Problems, account string, fn func(m *manage.Manager, account string) error) error {
	return a.withManager(func(m *manage.Manager) error {
		account, err := manage.PickAccount(m.Home(), account)
		p.AddErr(err)
		if err := p.Err(); err != nil {
			return err
		}
		return fn(m, account)
	})
}

// homeAccount opens the home and picks the account -a names, like
// withAccount, for commands that only read the home.
func (a *app) homeAccount(p *authority.Problems, account string) (*authority.Home, string, error) {
	h, err := a.openHome()
	if err != nil {
		return nil, "", err
	}
	account, err = manage.PickAccount(h, account)
	p.AddErr(err)
	return h, account, p.Err()
}

// change runs one change through the core: it reports every problem in p
// (and a missing or ambiguous -a account), else calls fn with the account
// -a names, writes where the change went, and returns fn's error (a
// *manage.PublishError exits 1). fn prints what changed.
func (a *app) change(p *authority.Problems, account string, fn func(m *manage.Manager, account string) (*manage.Result, error)) error {
	return a.withAccount(p, account, func(m *manage.Manager, account string) error {
		res, err := fn(m, account)
		res.WriteText(a.out)
		return err
	})
}

// quietLogger is the store logger of short CLI commands: warnings and
// errors only, unless --log-level asks for debug.
func (a *app) quietLogger() *slog.Logger {
	lvl := slog.LevelWarn
	if strings.EqualFold(a.logLevel, "debug") {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: lvl}))
}

// logger builds the process logger; only main-level code picks a handler.
func (a *app) logger() *slog.Logger {
	lvl := logLevels[strings.ToLower(a.logLevel)] // info when unknown: checkGlobals refuses it
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: lvl}))
}
