package describe

import (
	"fmt"
	"io"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// UserIssued writes what a front door says after it issued (edit: edited)
// user u: the user and its summary, for a new user the key that signed it,
// and where its creds are — none for a user issued from its public key.
func UserIssued(w io.Writer, h *authority.Home, u *authority.UserInfo, edit, fromPublicKey bool) {
	fmt.Fprintf(w, "%s user %s %s %s account %s\n", map[bool]string{false: "added", true: "edited"}[edit],
		u.Name, u.Pub, map[bool]string{false: "to", true: "in"}[edit], u.Account)
	UserSummary(w, u)
	if acc, err := h.Account(u.Account); err == nil && !edit {
		UserSigner(w, acc, u)
	}
	if fromPublicKey {
		fmt.Fprintf(w, "  creds  none: the user was issued from its public key and its seed is not here.\n"+
			"         The holder of the seed makes the creds file from the user JWT:\n"+
			"         natsauth describe user -a %s -n %s --raw > %s.jwt\n", u.Account, u.Name, u.Name)
		return
	}
	fmt.Fprintf(w, "  creds  %s\n", h.CredsPath(u.Account, u.Name))
}

// AccountChanged writes what a front door says after it added (edit:
// edited) account acc with e: the account, the settings changed (as the
// front door words them), the signing keys added or removed since before,
// and notes on JetStream limits that stay off and on an account whose
// seed is held elsewhere (external).
func AccountChanged(w io.Writer, before, acc *authority.AccountInfo, e authority.AccountEdit, changes []string, edit, external bool) {
	fmt.Fprintf(w, "%s account %s %s\n", map[bool]string{false: "added", true: "edited"}[edit], acc.Name, acc.Pub)
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	SigningKeyChanges(w, before, acc)
	if js := acc.Claims.Limits.JetStreamLimits; (e.JSStreams != nil || e.JSConsumer != nil) && js.MemoryStorage == 0 && js.DiskStorage == 0 {
		fmt.Fprintf(w, "  note: JetStream stays disabled until --js-mem-storage or --js-disk-storage is set\n")
	}
	if external {
		fmt.Fprintf(w, "  its seed is not here: add a signing key (natsauth edit account %s --sk generate) to issue its users here\n", acc.Name)
	}
}

// OperatorEdited writes what an operator edit did: the signing keys added
// and removed, the signing-key requirement (when it was set; nil
// otherwise), the accounts re-signed, and — as servers read the operator
// JWT only at start — the restart note when anything of it changed.
func OperatorEdited(w io.Writer, h *authority.Home, added, removed []string, require *bool, resigned []authority.AccountInfo) {
	for _, k := range added {
		fmt.Fprintf(w, "added operator signing key %s\n", k)
	}
	for _, k := range removed {
		fmt.Fprintf(w, "removed operator signing key %s\n", k)
	}
	if require != nil {
		fmt.Fprintf(w, "operator %s requires signing keys: %s\n", h.OperatorName(), YesNo(*require))
	}
	for _, acc := range resigned {
		fmt.Fprintf(w, "  re-signed account %s with the operator signing key\n", acc.Name)
	}
	if len(added)+len(removed) > 0 || require != nil {
		RestartNote(w, h)
	}
}

// AddedImports writes the imports acc gained since before, each source
// account by its name in h when it is one of h's.
func AddedImports(w io.Writer, h *authority.Home, before, acc *authority.AccountInfo) {
	for _, im := range authority.AddedImports(before, acc) {
		src := im.Account
		if s, err := h.AccountByPub(src); err == nil {
			src = s.Name
		}
		fmt.Fprintf(w, "added import to account %s: %s\n", acc.Name, ImportLine(im, src))
	}
}

// ConsumerShare writes what a consumer grant (verb "granted") or its
// removal ("revoked") changed, and how the importer's clients reach the
// consumer.
func ConsumerShare(w io.Writer, verb string, g authority.ConsumerGrant, s *authority.ConsumerShare) {
	fmt.Fprintf(w, "%s account %s the consumer %s/%s of account %s\n  JetStream API prefix for %s's clients: %s\n  subjects: %v\n",
		verb, s.Importer.Name, g.Stream, g.Consumer, s.Exporter.Name, s.Importer.Name, s.APIPrefix, s.Subjects)
}

// Activation says what an activation token grants, for people: "activation
// token of account A for B: stream orders.>, expires never".
func Activation(account, target string, act *authority.Activation) string {
	return fmt.Sprintf("activation token of account %s for %s: %s %s, expires %s", account, target, act.Export.Type,
		act.Claims.ImportSubject, units.FormatTime(act.Claims.Expires, "never"))
}

// HomeCreated writes what init made in h: the operator and its keys, the
// system account and where its user's creds are.
func HomeCreated(w io.Writer, h *authority.Home) {
	op := h.Operator()
	creds, _ := h.SystemUserCreds()
	fmt.Fprintf(w, "created operator %s in %s\n", h.OperatorName(), h.Dir())
	fmt.Fprintf(w, "  operator key          %s\n", op.Subject)
	for _, sk := range op.SigningKeys {
		fmt.Fprintf(w, "  operator signing key  %s\n", sk)
	}
	fmt.Fprintf(w, "  system account        %s %s\n", authority.SystemAccountName, h.SystemAccount())
	fmt.Fprintf(w, "  system user creds     %s\n", creds)
}
