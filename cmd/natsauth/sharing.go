package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
	"github.com/natsauth/natsauth/internal/flagspec"
	"github.com/natsauth/natsauth/manage"
)

func init() {
	register("add", func(a *app) *cobra.Command { return newExportCmd(a, false) })
	register("edit", func(a *app) *cobra.Command { return newExportCmd(a, true) })
	register("delete", newDeleteExportCmd)
	register("add", newAddImportCmd)
	register("delete", newDeleteImportCmd)
	register("generate", newGenerateActivationCmd)
	register("add", func(a *app) *cobra.Command { return newConsumerGrantCmd(a, false) })
	register("delete", func(a *app) *cobra.Command { return newConsumerGrantCmd(a, true) })
}

func newExportCmd(a *app, edit bool) *cobra.Command {
	var account, subject string
	var e authority.ExportEdit
	verb := map[bool]string{false: "add", true: "edit"}[edit]
	cmd := &cobra.Command{
		Use:   "export",
		Short: map[bool]string{false: "Export a stream or service of an account to other accounts", true: "Change an export of an account"}[edit],
		Long: `A stream export lets other accounts import messages the account's users publish; a service export lets them
send requests the account's users answer. A private export is imported only with an activation token
(natsauth generate activation); a public one by every account that adds the import.`,
		Example: map[bool]string{false: `  natsauth add export -a Orders -s "orders.>" -n orders
  natsauth add export -a Orders -s "orders.status.*" --service --response-type Singleton --latency lat.status --sampling 50
  natsauth add export -a Orders -s "orders.private.>" --private
  natsauth add export -a Orders -s "orders.*.reports" --account-token-position 2`,
			true: `  natsauth edit export -a Orders -s "orders.status.*" --response-threshold 5s --rm-latency-sampling
  natsauth edit export -a Orders -s "orders.>" --private`}[edit],
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.StringVarP(&account, "account", "a", "", acctUsage)
	fs.StringVarP(&subject, "subject", "s", "", "subject exported (wildcards allowed unless the account forbids them)")
	s := []flagspec.Spec{
		flagspec.S("name,n", "export name (default: the subject)", 's', flagspec.To(&e.Name, flagspec.Text)),
		flagspec.S("service", "a service (requests the account's users answer); default a stream", 'b', flagspec.To(&e.Service, flagspec.Bool)),
		flagspec.S("private", "importers need an activation token (natsauth generate activation)", 'b', flagspec.To(&e.Private, flagspec.Bool)),
		flagspec.S("response-type", "responses a service request may get: Singleton (default), Stream or Chunked", 's', flagspec.To(&e.ResponseType, flagspec.Text)),
		flagspec.S("response-threshold", "how long an importer's request waits for responses, e.g. 5s (services)", 's', flagspec.To(&e.ResponseThreshold, flagspec.Duration)),
		flagspec.S("latency", "subject the service's latency samples are published to, in this account", 's', flagspec.To(&e.LatencySubject, flagspec.Text)),
		flagspec.S("sampling", `latency sampling: a percentage 1-100, or "header"`, 's', flagspec.To(&e.LatencySampling, flagspec.Text)),
		flagspec.S("account-token-position", "a public export's subject token (1-based, a '*') that must hold the importer's account public key", 's', flagspec.To(&e.AccountTokenPosition, flagspec.Position)),
		flagspec.S("allow-trace", "let message traces cross the export (services)", 'b', flagspec.To(&e.AllowTrace, flagspec.Bool)),
		flagspec.S("description", "description of the export", 's', flagspec.To(&e.Description, flagspec.Text)),
		flagspec.S("info-url", "http(s) URL with more information about the export", 's', flagspec.To(&e.InfoURL, flagspec.Text)),
	}
	if edit {
		s = append(s, flagspec.S("rm-latency-sampling", "stop latency tracking", 'b', flagspec.Value(&e.RemoveLatency, flagspec.Bool)))
	}
	sp := flagspec.Bind(fs, s...)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		p := authority.NewProblems("%s export %s", verb, subject)
		sp.Apply(p.Add)
		if subject == "" {
			p.Add("the subject is required: give -s SUBJECT")
		}
		return a.change(p, account, func(m *manage.Manager, account string) (*manage.Result, error) {
			var acc *authority.AccountInfo
			var res *manage.Result
			var err error
			if edit {
				acc, res, err = m.EditExport(cmd.Context(), account, subject, e)
			} else {
				acc, res, err = m.AddExport(cmd.Context(), account, e.Spec(subject))
			}
			if acc != nil {
				fmt.Fprintf(a.out, "%sed export of account %s: %s\n", verb, acc.Name, describe.ExportOf(acc, subject))
			}
			return res, err
		})
	}
	return cmd
}

func newDeleteExportCmd(a *app) *cobra.Command {
	var account, subject string
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Delete an export: accounts that import it lose it",
		Example: `  natsauth delete export -a Orders -s "orders.>"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.change(authority.NewProblems("delete export %s", subject), account, func(m *manage.Manager, account string) (*manage.Result, error) {
				acc, importers, res, err := m.DeleteExport(cmd.Context(), account, subject)
				if acc != nil {
					fmt.Fprintf(a.out, "deleted export %s of account %s\n", subject, acc.Name)
					if len(importers) > 0 {
						fmt.Fprintf(a.out, "  these accounts import it and lose it: %v (natsauth doctor lists broken imports)\n", importers)
					}
				}
				return res, err
			})
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", acctUsage)
	cmd.Flags().StringVarP(&subject, "subject", "s", "", "subject of the export")
	return cmd
}

func newAddImportCmd(a *app) *cobra.Command {
	var account, token string
	var s authority.ImportSpec
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import a stream or service another account exports",
		Example: `  natsauth add import -a Shipping --src-account Orders --remote-subject "orders.>" -s "from.orders.>"
  natsauth add import -a Shipping --src-account Orders --service --remote-subject "orders.status.*" -s "status.$1"
  natsauth add import -a Shipping -u orders-private.jwt        # a private export, with its activation token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("add import %s", s.Subject)
			if token != "" {
				var err error
				s.Token, err = manage.ReadToken(cmd.Context(), token)
				p.AddErr(err)
			} else if s.Subject == "" {
				p.Add("the remote subject is required: give --remote-subject SUBJECT, or -u with an activation token")
			}
			return a.change(p, account, func(m *manage.Manager, account string) (*manage.Result, error) {
				before, _ := m.Home().Account(account)
				acc, res, err := m.AddImport(cmd.Context(), account, s)
				describe.AddedImports(a.out, m.Home(), before, acc)
				return res, err
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&account, "account", "a", "", "importing "+acctUsage)
	fs.StringVar(&s.Account, "src-account", "", "exporting account: a name of this home or an account public key (with -u: from the token)")
	fs.StringVar(&s.Subject, "remote-subject", "", "subject as the source exports it (with -u: from the token)")
	fs.StringVarP(&s.LocalSubject, "local-subject", "s", "", "subject in the importing account, $1, $2 ... for the remote subject's wildcards (default: the remote subject)")
	fs.BoolVar(&s.Service, "service", false, "import a service (default: a stream)")
	fs.BoolVar(&s.Share, "share", false, "share the importer's connection details with the exporter's latency samples (services)")
	fs.BoolVar(&s.AllowTrace, "allow-trace", false, "let message traces cross the import (streams)")
	fs.StringVarP(&s.Name, "name", "n", "", "import name (default: the token's name or the remote subject)")
	fs.StringVarP(&token, "token", "u", "", "activation token of a private export: a file or an http(s) URL")
	return cmd
}

func newDeleteImportCmd(a *app) *cobra.Command {
	var account, subject, src string
	cmd := &cobra.Command{
		Use:     "import",
		Short:   "Delete an import",
		Example: `  natsauth delete import -a Shipping -s "orders.>" --src-account Orders`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.change(authority.NewProblems("delete import %s", subject), account, func(m *manage.Manager, account string) (*manage.Result, error) {
				acc, res, err := m.DeleteImport(cmd.Context(), account, subject, src)
				if acc != nil {
					fmt.Fprintf(a.out, "deleted import %s of account %s\n", subject, acc.Name)
				}
				return res, err
			})
		},
	}
	cmd.Flags().StringVarP(&account, "account", "a", "", "importing "+acctUsage)
	cmd.Flags().StringVarP(&subject, "subject", "s", "", "the import's remote subject")
	cmd.Flags().StringVar(&src, "src-account", "", "exporting account (name or public key), when several are imported from on this subject")
	return cmd
}

func newGenerateActivationCmd(a *app) *cobra.Command {
	var account, out, server string
	var push bool
	var s authority.ActivationSpec
	cmd := &cobra.Command{
		Use:   "activation",
		Short: "Sign an activation token that lets another account import a private export",
		Long: `Sign, with the exporting account's key, a token that grants the target account the import of a private
export's subject (or a narrower one). The token changes no JWT; it goes to the importer, who adds it with
natsauth add import -u. Revoke it with natsauth revocations add-activation.`,
		Example: `  natsauth generate activation -a Orders -t Shipping -s "orders.private.>" --expiry 90d -o shipping.jwt
  natsauth add import -a Shipping -u shipping.jwt
  natsauth generate activation -a Orders -t Shipping -s "orders.private.>" --push --account-server http://as:9090`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	fs.StringVarP(&account, "account", "a", "", "exporting "+acctUsage)
	fs.StringVarP(&s.Target, "target-account", "t", "", "importing account: a name of this home or an account public key")
	fs.StringVarP(&s.Subject, "subject", "s", "", "the private export's subject, or a narrower one")
	fs.StringVarP(&out, "output-file", "o", "--", "write the token to this file (mode 0600); -- is stdout")
	fs.BoolVar(&push, "push", false, "post the token to the account server (nats-account-server's activations API) instead")
	fs.StringVar(&server, "account-server", "", "account server for --push (default: the operator's account_server_url)")
	sp := flagspec.Bind(fs, flagspec.S("expiry", expiryUsage, 's', flagspec.Value(&s.Expires, flagspec.Time)), flagspec.S("start", startUsage, 's', flagspec.Value(&s.Start, flagspec.Time)))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		p := authority.NewProblems("generate activation %s", s.Subject)
		sp.Apply(p.Add)
		if push && fs.Changed("output-file") {
			p.Add("--push and --output-file exclude each other")
		}
		return a.change(p, account, func(m *manage.Manager, account string) (*manage.Result, error) {
			api, err := m.ActivationsURL(server)
			if err != nil && push {
				return nil, err
			}
			act, err := m.GenerateActivation(cmd.Context(), account, s)
			if err != nil {
				return nil, err
			}
			msg, where := describe.Activation(account, s.Target, act), out
			switch {
			case push:
				where, err = manage.PushActivation(cmd.Context(), api, act)
				msg = "pushed " + msg
			case out == "--":
				fmt.Fprintf(a.errOut, "%s\n", msg)
				return nil, act.WriteDecorated(a.out)
			default:
				err = act.WriteFile(out)
				msg = fmt.Sprintf("wrote %s to %s", msg, out)
			}
			if err == nil {
				fmt.Fprintf(a.out, "%s\n  the importer adds it with: natsauth add import -a %s -u %s\n", msg, s.Target, where)
			}
			return nil, err
		})
	}
	return cmd
}

func newConsumerGrantCmd(a *app, revoke bool) *cobra.Command {
	var exporter string
	var g authority.ConsumerGrant
	cmd := &cobra.Command{
		Use:   "consumer-grant",
		Short: map[bool]string{false: "Let another account use a durable JetStream consumer of this account's stream", true: "Remove a consumer grant"}[revoke],
		Long: `Grants (or, with delete, removes) another account's use of a durable consumer of a stream in this account's
JetStream: private exports of the consumer's JetStream API requests (info and, for a pull consumer, next-message
requests), of its acks and — for a push consumer (--deliver-subject) — of flow control and the delivery subject,
and imports of each with an activation token in the target account. The importer's clients reach the API under
a prefix of their own (default JS.<exporter>.API), so it does not collide with their account's own JetStream:
nats.go jetstream.NewWithAPIPrefix(nc, PREFIX), or nats --js-api-prefix PREFIX. The stream owner creates the
durable consumer itself, as usual. Delete removes the imports, drops the exports no other account uses and revokes
the target's tokens on the rest.`,
		Example: map[bool]string{false: `  natsauth add consumer-grant -a Orders -t Shipping --stream ORDERS --consumer shipping
  natsauth add consumer-grant -a Orders -t Billing --stream ORDERS --consumer billing --deliver-subject deliver.billing`,
			true: `  natsauth delete consumer-grant -a Orders -t Shipping --stream ORDERS --consumer shipping`}[revoke],
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := authority.NewProblems("consumer-grant %s/%s", g.Stream, g.Consumer)
			if g.Importer == "" {
				p.Add("the target account is required: give -t ACCOUNT")
			}
			return a.change(p, exporter, func(m *manage.Manager, exporter string) (*manage.Result, error) {
				change, verb := m.GrantConsumer, "granted"
				if revoke {
					change, verb = m.RevokeConsumer, "revoked"
				}
				share, res, err := change(cmd.Context(), exporter, g)
				if share != nil {
					describe.ConsumerShare(a.out, verb, g, share)
				}
				return res, err
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&exporter, "account", "a", "", "account that owns the stream (optional when there is one account besides SYS)")
	fs.StringVarP(&g.Importer, "target-account", "t", "", "account that gets the consumer")
	fs.StringVar(&g.Stream, "stream", "", "stream name")
	fs.StringVar(&g.Consumer, "consumer", "", "durable consumer name")
	fs.StringVar(&g.DeliverSubject, "deliver-subject", "", "deliver subject of a push consumer (none: a pull consumer)")
	fs.StringVar(&g.APIPrefix, "api-prefix", "", "JetStream API prefix of the target's clients (default JS.<account>.API)")
	return cmd
}
