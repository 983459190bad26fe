package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"

	"github.com/natsauth/natsauth/node"
	"github.com/natsauth/natsauth/store"
)

func init() { register("", newEventsCmd) }

// Subjects of the system events `natsauth events` follows.
const (
	subjectConnect    = "$SYS.ACCOUNT.*.CONNECT"
	subjectDisconnect = "$SYS.ACCOUNT.*.DISCONNECT"
	subjectAuthError  = "$SYS.SERVER.*.CLIENT.AUTH.ERR"
)

type eventsFlags struct {
	server          string
	creds           string
	tlsCA           string
	tlsCert, tlsKey string
	json            bool
}

func newEventsCmd(a *app) *cobra.Command {
	var f eventsFlags
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow a server's connect, disconnect and authentication-error events live",
		Long: `Follow the system events of running servers, one line per event, until interrupted:
client connects, disconnects with the reason the server gives, and refused connects
(authentication errors) with the server's reason and natsauth's explanation of it
(expired, revoked, bad_signature, unknown_account, ...), worked out from the user JWT
the client presented and the account's current JWT. Keys are printed, never a JWT or
a seed. It connects as a system-account user: the home's sys user by default.`,
		Example: `  natsauth events
  natsauth events --server nats://10.0.0.5:4222 --creds SYS.creds --json | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.events(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.server, "server", "s", nats.DefaultURL, "NATS URL of a running server")
	fl.StringVar(&f.creds, "creds", "", "creds of a system-account user (default: the home's sys user)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA file that signed the server's certificate (TLS)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "client certificate for mutual TLS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "client key for mutual TLS")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	return cmd
}

func (a *app) events(ctx context.Context, f eventsFlags) error {
	credsPath := f.creds
	if credsPath == "" {
		h, err := a.openHome()
		if err != nil {
			return fmt.Errorf("%w (or pass --creds of a system-account user)", err)
		}
		if credsPath, err = h.SystemUserCreds(); err != nil {
			return fmt.Errorf("%w (pass --creds of a system-account user)", err)
		}
	}
	creds, err := loadCreds(credsPath)
	if err != nil {
		return err
	}
	if creds.loose {
		fmt.Fprintf(a.errOut, "warning: %s is readable by other users (mode %v): chmod 600 %s\n", credsPath, creds.mode, credsPath)
	}
	opts := []nats.Option{
		nats.Name("natsauth events"),
		creds.option(),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				fmt.Fprintf(a.errOut, "disconnected: %v (reconnecting)\n", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			fmt.Fprintf(a.errOut, "reconnected to %s\n", store.Redact(nc.ConnectedUrl()))
		}),
	}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		opts = append(opts, nats.ClientCert(f.tlsCert, f.tlsKey))
	}
	nc, err := nats.Connect(f.server, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s as a system-account user: %w", store.Redact(f.server), err)
	}
	defer nc.Close()

	p := &eventPrinter{out: a.out, json: f.json, lookup: natsLookup(nc)}
	for _, subj := range []string{subjectConnect, subjectDisconnect, subjectAuthError} {
		if _, err := nc.Subscribe(subj, p.handle); err != nil {
			return fmt.Errorf("subscribe %s: %w", subj, err)
		}
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("subscribe to system events on %s: %w (are the creds a system-account user's?)", store.Redact(f.server), err)
	}
	if err := nc.LastError(); err != nil {
		return fmt.Errorf("subscribe to system events on %s: %w (are the creds a system-account user's?)", store.Redact(f.server), err)
	}
	fmt.Fprintf(a.errOut, "following events on %s (Ctrl-C to stop)\n", store.Redact(nc.ConnectedUrl()))
	<-ctx.Done()
	return nil
}

// natsLookup asks the servers for an account's JWT
// ($SYS.REQ.ACCOUNT.<key>.CLAIMS.LOOKUP): an empty answer means the
// account does not exist.
func natsLookup(nc *nats.Conn) node.AccountLookup {
	return func(ctx context.Context, account string) (*jwt.AccountClaims, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		m, err := nc.RequestWithContext(ctx, "$SYS.REQ.ACCOUNT."+account+".CLAIMS.LOOKUP", nil)
		if err != nil {
			return nil, fmt.Errorf("look up account %s: %w", account, err)
		}
		if len(m.Data) == 0 {
			return nil, fmt.Errorf("look up account %s: %w", account, store.ErrNotFound)
		}
		return jwt.DecodeAccountClaims(string(m.Data))
	}
}

// eventRecord is one printed event. It carries keys and names, never a
// JWT.
type eventRecord struct {
	Time        time.Time `json:"time"`
	Type        string    `json:"type"` // connect, disconnect, auth_error
	Server      string    `json:"server,omitempty"`
	Account     string    `json:"account,omitempty"`
	AccountName string    `json:"account_name,omitempty"`
	User        string    `json:"user,omitempty"`
	UserName    string    `json:"user_name,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Client      string    `json:"client,omitempty"` // the name the client gave its connection
	Reason      string    `json:"reason,omitempty"` // what the server said
	Cause       string    `json:"cause,omitempty"`  // natsauth's explanation (a metrics reason label)
	Detail      string    `json:"detail,omitempty"`
}

// eventPrinter turns system event messages into lines.
type eventPrinter struct {
	out    io.Writer
	json   bool
	lookup node.AccountLookup
	mu     sync.Mutex
}

func (p *eventPrinter) handle(m *nats.Msg) {
	rec, ok := p.decode(m)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, _ := json.Marshal(rec)
		fmt.Fprintf(p.out, "%s\n", b)
		return
	}
	fmt.Fprintln(p.out, rec.line())
}

func (p *eventPrinter) decode(m *nats.Msg) (eventRecord, bool) {
	switch {
	case strings.HasSuffix(m.Subject, ".CONNECT"):
		var ev server.ConnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return eventRecord{}, false
		}
		rec := clientRecord("connect", ev.Time, ev.Server, ev.Client)
		return rec, true
	case strings.HasSuffix(m.Subject, ".DISCONNECT"):
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return eventRecord{}, false
		}
		rec := clientRecord("disconnect", ev.Time, ev.Server, ev.Client)
		rec.Reason = ev.Reason
		if f, ok := node.ClassifyDisconnect(&ev); ok {
			rec.Cause, rec.Detail = f.Reason, f.Detail
			rec.User = cmpOr(rec.User, f.User)
		}
		return rec, true
	case strings.HasSuffix(m.Subject, ".AUTH.ERR"):
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) != nil {
			return eventRecord{}, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		f := node.ClassifyAuthError(ctx, &ev, p.lookup, time.Now())
		rec := eventRecord{
			Time: ev.Time, Type: "auth_error", Server: serverLabel(ev.Server),
			Account: f.Account, User: f.User, Remote: f.Remote, Client: f.Name,
			Reason: ev.Reason, Cause: f.Reason, Detail: f.Detail,
		}
		if uc, err := jwt.DecodeUserClaims(ev.Client.Jwt); err == nil {
			rec.UserName = uc.Name
		}
		return rec, true
	}
	return eventRecord{}, false
}

// clientRecord fills what connect and disconnect events share.
func clientRecord(typ string, at time.Time, si server.ServerInfo, ci server.ClientInfo) eventRecord {
	rec := eventRecord{
		Time: at, Type: typ, Server: serverLabel(si),
		Account: ci.Account, AccountName: ci.NameTag, Remote: ci.Host, Client: ci.Name,
	}
	if nkeys.IsValidPublicUserKey(ci.User) {
		rec.User = ci.User
	}
	if ci.Jwt != "" {
		if uc, err := jwt.DecodeUserClaims(ci.Jwt); err == nil {
			rec.UserName = uc.Name
			rec.User = cmpOr(rec.User, uc.Subject)
		}
	}
	return rec
}

func serverLabel(si server.ServerInfo) string { return cmpOr(si.Name, si.ID) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// line renders the record for people.
func (r eventRecord) line() string {
	var b strings.Builder
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	b.WriteString(at.Local().Format("2006-01-02 15:04:05.000"))
	kinds := map[string]string{"connect": "CONNECT   ", "disconnect": "DISCONNECT", "auth_error": "AUTH ERROR"}
	fmt.Fprintf(&b, " %s ", kinds[r.Type])
	b.WriteString("user ")
	b.WriteString(nameKey(r.UserName, r.User))
	b.WriteString(" account ")
	b.WriteString(nameKey(r.AccountName, r.Account))
	if r.Remote != "" {
		b.WriteString(" from ")
		b.WriteString(r.Remote)
	}
	if r.Client != "" {
		fmt.Fprintf(&b, " client %q", r.Client)
	}
	if r.Server != "" {
		b.WriteString(" on ")
		b.WriteString(r.Server)
	}
	if r.Reason != "" {
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	if r.Cause != "" {
		fmt.Fprintf(&b, " [%s: %s]", r.Cause, r.Detail)
	}
	return b.String()
}

func nameKey(name, key string) string {
	switch {
	case name != "" && key != "":
		return name + " (" + key + ")"
	case key != "":
		return key
	case name != "":
		return name
	}
	return "-"
}

// credsFile is a parsed creds file: a user JWT and its seed.
type credsFile struct {
	jwt   string
	kp    nkeys.KeyPair
	mode  os.FileMode
	loose bool // readable by group or others
}

// option authenticates a nats.go connection with the creds.
func (c *credsFile) option() nats.Option {
	return nats.UserJWT(
		func() (string, error) { return c.jwt, nil },
		func(nonce []byte) ([]byte, error) { return c.kp.Sign(nonce) },
	)
}

// maxCredsSize bounds a creds file read (real ones are under 4 KiB).
const maxCredsSize = 1 << 20

// loadCreds reads and checks a creds file.
func loadCreds(path string) (*credsFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("creds file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("creds file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxCredsSize+1))
	if err != nil {
		return nil, fmt.Errorf("creds file %s: %w", path, err)
	}
	c, err := parseCreds(data)
	if err != nil {
		return nil, fmt.Errorf("creds file %s: %w", path, err)
	}
	c.mode = fi.Mode().Perm()
	c.loose = c.mode&0o077 != 0
	return c, nil
}

// parseCreds parses the content of a creds file (nsc's decorated format:
// a user JWT block and a user seed block). Errors describe what is wrong
// and never quote the content: it holds a seed.
func parseCreds(data []byte) (*credsFile, error) {
	if len(data) > maxCredsSize {
		return nil, fmt.Errorf("larger than %d bytes: not a creds file", maxCredsSize)
	}
	tok, err := jwt.ParseDecoratedJWT(data)
	if err != nil || tok == "" {
		return nil, errors.New("no user JWT found (want a file written by natsauth or nsc)")
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil, errors.New("the JWT in it is not a valid user JWT")
	}
	kp, err := jwt.ParseDecoratedUserNKey(data)
	if err != nil || kp == nil {
		return nil, errors.New("no user seed found")
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, errors.New("the seed in it is not a user seed")
	}
	if pub != uc.Subject {
		return nil, fmt.Errorf("the seed belongs to user %s, the JWT to user %s", pub, uc.Subject)
	}
	return &credsFile{jwt: tok, kp: kp}, nil
}
