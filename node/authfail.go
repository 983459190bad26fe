package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/metrics"
	"github.com/natsauth/natsauth/store"
)

// AuthFailure describes one connection refused or ended for authentication
// or authorization. It never holds the user's JWT, only keys.
type AuthFailure struct {
	// Reason is one of the metrics.Reason constants.
	Reason string
	// User is the user public key, when the client presented a readable
	// user JWT.
	User string
	// Account is the account public key the user claims, "" when unknown.
	Account string
	// KnownAccount says Account is in the store.
	KnownAccount bool
	// Remote is the client's address (host only, as nats-server reports it).
	Remote string
	// Name is the name the client gave its connection (client-supplied).
	Name string
	// ServerReason is what nats-server said, e.g. "Authentication Failure".
	ServerReason string
	// Detail explains Reason, e.g. "user JWT expired at 2025-01-02T03:04:05Z".
	Detail string
}

// AccountLabel is the metric label of the failure's account: its key when
// the store knows it, metrics.AccountUnknown for a claimed account that is
// not there, metrics.AccountNone when no account could be told.
func (f AuthFailure) AccountLabel() string {
	switch {
	case f.KnownAccount:
		return f.Account
	case f.Account != "":
		return metrics.AccountUnknown
	}
	return metrics.AccountNone
}

// AccountLookup returns the current claims of an account; an error
// wrapping store.ErrNotFound means the account does not exist.
type AccountLookup func(ctx context.Context, account string) (*jwt.AccountClaims, error)

// ClassifyAuthError explains a $SYS.SERVER.<id>.CLIENT.AUTH.ERR event.
// nats-server gives every refused connect the same reason ("Authentication
// Failure") and no user key, so the reason is worked out again from the
// user JWT the client presented (carried in the event), the account's
// current claims and now, in the order nats-server checks them:
//
//   - no JWT: no_credentials;
//   - a JWT that does not decode or verify, or whose issuer is not an
//     account key: bad_signature;
//   - expired user JWT: expired; account not in the store: unknown_account;
//     expired account JWT: expired;
//   - user signed by a key the account does not list: bad_signature;
//   - bearer user of an account that disallows bearer tokens, a connection
//     type or source network the user may not use: other;
//   - the user revoked by the account: revoked;
//   - otherwise the client's nonce signature failed — the seed does not
//     match the JWT: bad_signature (other when the user has connect-time
//     windows, which could also be the cause).
//
// The account is looked up after the event, so a change in between can
// make the reason differ from nats-server's own.
func ClassifyAuthError(ctx context.Context, ev *server.DisconnectEventMsg, lookup AccountLookup, now time.Time) AuthFailure {
	f := AuthFailure{Remote: ev.Client.Host, Name: ev.Client.Name, ServerReason: ev.Reason}
	tok := ev.Client.Jwt
	if tok == "" {
		f.Reason, f.Detail = metrics.ReasonNoCredentials, "no user JWT presented"
		return f
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		f.Reason, f.Detail = metrics.ReasonBadSignature, "user JWT does not decode or verify"
		return f
	}
	f.User = uc.Subject
	acc := uc.Issuer
	if uc.IssuerAccount != "" {
		acc = uc.IssuerAccount
	}
	if !nkeys.IsValidPublicAccountKey(acc) {
		f.Reason, f.Detail = metrics.ReasonBadSignature, "user JWT is not issued by an account key"
		return f
	}
	f.Account = acc
	// Look the account up first, so that the failure is counted under it
	// even when the user JWT alone explains the refusal.
	ac, lerr := lookup(ctx, acc)
	f.KnownAccount = lerr == nil && ac != nil
	if uc.Expires > 0 && now.Unix() >= uc.Expires {
		f.Reason, f.Detail = metrics.ReasonExpired, "user JWT expired at "+time.Unix(uc.Expires, 0).UTC().Format(time.RFC3339)
		return f
	}
	if uc.NotBefore > 0 && now.Unix() < uc.NotBefore {
		f.Reason, f.Detail = metrics.ReasonOther, "user JWT not valid before "+time.Unix(uc.NotBefore, 0).UTC().Format(time.RFC3339)
		return f
	}
	switch {
	case errors.Is(lerr, store.ErrNotFound):
		f.Reason, f.Detail = metrics.ReasonUnknownAccount, "account is not in the store"
		return f
	case !f.KnownAccount:
		f.Reason, f.Detail = metrics.ReasonOther, "account lookup failed"
		return f
	}
	if ac.Expires > 0 && now.Unix() >= ac.Expires {
		f.Reason, f.Detail = metrics.ReasonExpired, "account JWT expired at "+time.Unix(ac.Expires, 0).UTC().Format(time.RFC3339)
		return f
	}
	if uc.Issuer != ac.Subject && !ac.SigningKeys.Contains(uc.Issuer) {
		f.Reason, f.Detail = metrics.ReasonBadSignature, "user JWT signed by a key the account does not list"
		return f
	}
	if uc.BearerToken && ac.Limits.DisallowBearer {
		f.Reason, f.Detail = metrics.ReasonOther, "bearer user of an account that disallows bearer tokens"
		return f
	}
	if !connTypeAllowed(uc, ev.Client.ClientType) {
		f.Reason, f.Detail = metrics.ReasonOther, fmt.Sprintf("connection type %q not allowed for the user", ev.Client.ClientType)
		return f
	}
	if ac.IsClaimRevoked(uc) {
		f.Reason, f.Detail = metrics.ReasonRevoked, "user revoked by the account"
		return f
	}
	if !srcAllowed(uc, ev.Client.Host) {
		f.Reason, f.Detail = metrics.ReasonOther, "source address not allowed for the user"
		return f
	}
	if uc.BearerToken {
		f.Reason, f.Detail = metrics.ReasonOther, "bearer user refused for a reason not told"
		return f
	}
	if len(uc.Times) > 0 {
		f.Reason, f.Detail = metrics.ReasonOther, "wrong seed, or outside the user's connect times"
		return f
	}
	f.Reason, f.Detail = metrics.ReasonBadSignature, "nonce signature does not match the user JWT (wrong seed)"
	return f
}

// ClassifyDisconnect reports whether a $SYS.ACCOUNT.<acc>.DISCONNECT event
// closed the connection for authentication or authorization — the user or
// account JWT expired, the user was revoked, the account's connection limit
// was reached, no CONNECT came in time — and describes it.
func ClassifyDisconnect(ev *server.DisconnectEventMsg) (AuthFailure, bool) {
	f := AuthFailure{
		User: ev.Client.User, Account: ev.Client.Account, Remote: ev.Client.Host,
		Name: ev.Client.Name, ServerReason: ev.Reason,
	}
	f.KnownAccount = nkeys.IsValidPublicAccountKey(f.Account)
	if !f.KnownAccount {
		f.Account = ""
	}
	if f.User == "" && ev.Client.Jwt != "" {
		// Refused before nats-server noted the user's key (the account's
		// connection limit): take it from the JWT it accepted.
		if uc, err := jwt.DecodeUserClaims(ev.Client.Jwt); err == nil {
			f.User = uc.Subject
		}
	}
	if !nkeys.IsValidPublicUserKey(f.User) {
		f.User = "" // a password or token user: nothing to show
	}
	switch ev.Reason {
	case "Authentication Expired":
		f.Reason, f.Detail = metrics.ReasonExpired, "closed: credentials expired while connected"
	case "Credentials Revoked":
		f.Reason, f.Detail = metrics.ReasonRevoked, "closed: user revoked while connected"
	case "Maximum Account Connections Exceeded":
		f.Reason, f.Detail = metrics.ReasonConnectionLimit, "refused: the account's connection limit is reached"
	case "Authentication Timeout":
		f.Reason, f.Detail = metrics.ReasonTimeout, "closed: no CONNECT within the authentication timeout"
	default:
		return AuthFailure{}, false
	}
	return f, true
}

// connTypeAllowed mirrors nats-server's check of a user's allowed
// connection types for client connections.
func connTypeAllowed(uc *jwt.UserClaims, clientType string) bool {
	if len(uc.AllowedConnectionTypes) == 0 {
		return true
	}
	var want []string
	switch clientType {
	case "nats":
		want = []string{jwt.ConnectionTypeStandard, jwt.ConnectionTypeInProcess}
	case "websocket":
		want = []string{jwt.ConnectionTypeWebsocket}
	case "mqtt":
		want = []string{jwt.ConnectionTypeMqtt, jwt.ConnectionTypeMqttWS}
	default:
		return true // cannot tell
	}
	return slices.ContainsFunc(want, func(t string) bool { return uc.AllowedConnectionTypes.Contains(t) })
}

// srcAllowed mirrors nats-server's check of a user's source networks.
func srcAllowed(uc *jwt.UserClaims, host string) bool {
	if len(uc.Src) == 0 {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, cidr := range uc.Src {
		if _, n, err := net.ParseCIDR(cidr); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}
