package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

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
	"add":         "Add an account or user",
	"edit":        "Edit an operator, account, user or signing key",
	"describe":    "Describe an operator, account or user",
	"list":        "List accounts or users",
	"delete":      "Delete a user or account",
	"generate":    "Generate creds, configuration or TLS material",
	"revocations": "Manage user revocations of an account",
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
		// Every change a command makes is attributed to it in the audit log.
		PersistentPreRun: func(cmd *cobra.Command, _ []string) { withActor(cmd) },
	}
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&a.homeFlag, "home", "", "natsauth home directory (env NATSAUTH_HOME; default $XDG_DATA_HOME/natsauth)")
	pf.StringVar(&a.storeFlag, "store", "", "account-JWT store URL (env NATSAUTH_STORE; default sqlite in the home)")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")

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
func (a *app) home() (string, error) {
	h := a.homeFlag
	if h == "" {
		h = os.Getenv("NATSAUTH_HOME")
	}
	if h == "" {
		base := os.Getenv("XDG_DATA_HOME")
		if base == "" {
			u, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find home directory: %w (set --home or NATSAUTH_HOME)", err)
			}
			base = filepath.Join(u, ".local", "share")
		}
		h = filepath.Join(base, "natsauth")
	}
	return filepath.Abs(h)
}

// storeURL returns the account-JWT store URL: --store, NATSAUTH_STORE or
// the embedded SQLite database in the home.
func (a *app) storeURL() (string, error) {
	if s := a.explicitStoreURL(); s != "" {
		return s, nil
	}
	h, err := a.home()
	if err != nil {
		return "", err
	}
	return DefaultStoreURL(h), nil
}

// explicitStoreURL is the store named by --store or NATSAUTH_STORE, or "".
func (a *app) explicitStoreURL() string {
	if a.storeFlag != "" {
		return a.storeFlag
	}
	return os.Getenv("NATSAUTH_STORE")
}

// DefaultStoreURL is the embedded default store of a home directory.
func DefaultStoreURL(home string) string {
	return "sqlite://" + filepath.ToSlash(filepath.Join(home, "accounts.db"))
}

// logger builds the process logger; only main-level code picks a handler.
func (a *app) logger() *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(a.logLevel) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: lvl}))
}
