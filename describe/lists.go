package describe

import (
	"fmt"
	"io"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// AccountRow is one line of `list accounts --json`.
type AccountRow struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	System    bool   `json:"system"`
	Users     int    `json:"users"`
	JetStream bool   `json:"jetstream"`
}

// AccountRows lists the home's accounts.
func AccountRows(h *authority.Home) ([]AccountRow, error) {
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	rows := make([]AccountRow, 0, len(accs))
	for _, acc := range accs {
		users, err := h.Users(acc.Name)
		if err != nil {
			return nil, err
		}
		rows = append(rows, AccountRow{Name: acc.Name, PublicKey: acc.Pub, System: acc.System,
			Users: len(users), JetStream: acc.Claims.Limits.IsJSEnabled()})
	}
	return rows, nil
}

// Accounts renders account rows as a table.
func Accounts(w io.Writer, rows []AccountRow) error {
	tw := NewTable(w)
	fmt.Fprintf(tw, "NAME\tPUBLIC KEY\tUSERS\tJETSTREAM\t\n")
	for _, r := range rows {
		note := ""
		if r.System {
			note = "system account"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Name, r.PublicKey, r.Users, YesNo(r.JetStream), note)
	}
	return tw.Flush()
}

// UserRow is one line of `list users --json`.
type UserRow struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Account   string `json:"account"`
	Expires   int64  `json:"expires"` // unix seconds, 0 for never
	Bearer    bool   `json:"bearer"`
	Revoked   bool   `json:"revoked"`
}

// UserRows lists the users of an account.
func UserRows(h *authority.Home, account string) ([]UserRow, error) {
	acc, err := h.Account(account)
	if err != nil {
		return nil, err
	}
	users, err := h.Users(account)
	if err != nil {
		return nil, err
	}
	rows := make([]UserRow, 0, len(users))
	for i := range users {
		u := &users[i]
		rows = append(rows, UserRow{Name: u.Name, PublicKey: u.Pub, Account: acc.Name,
			Expires: u.Claims.Expires, Bearer: u.Claims.BearerToken, Revoked: acc.IsRevoked(u)})
	}
	return rows, nil
}

// Users renders user rows as a table.
func Users(w io.Writer, rows []UserRow) error {
	tw := NewTable(w)
	fmt.Fprintf(tw, "NAME\tPUBLIC KEY\tEXPIRES\tREVOKED\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.PublicKey, units.FormatTime(r.Expires, "never"), YesNo(r.Revoked))
	}
	return tw.Flush()
}

// RevocationRow is one line of `revocations list-users --json`.
type RevocationRow struct {
	PublicKey string `json:"public_key"`
	User      string `json:"user,omitempty"`
	At        int64  `json:"at"` // unix seconds
}

// RevocationRows lists an account's user revocations.
func RevocationRows(h *authority.Home, account string) ([]RevocationRow, error) {
	revs, err := h.Revocations(account)
	rows := make([]RevocationRow, 0, len(revs))
	for _, r := range revs {
		rows = append(rows, RevocationRow{PublicKey: r.Pub, User: r.User, At: r.At.Unix()})
	}
	return rows, err
}

// Revocations renders an account's user revocations as a table.
func Revocations(w io.Writer, account string, rows []RevocationRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "account %s has no revocations\n", account)
		return err
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "PUBLIC KEY\tUSER\tREVOKES JWTS ISSUED AT OR BEFORE\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.PublicKey, r.User, units.FormatTime(r.At, "-"))
	}
	return tw.Flush()
}

// ActivationRevocationRow is one line of `revocations list-activations --json`.
type ActivationRevocationRow struct {
	Export  string `json:"export"`
	Service bool   `json:"service"`
	Account string `json:"account"` // public key, or "*"
	Name    string `json:"name,omitempty"`
	At      int64  `json:"at"` // unix seconds
}

// ActivationRevocationRows lists the activation revocations of an
// account's exports.
func ActivationRevocationRows(h *authority.Home, account string) ([]ActivationRevocationRow, error) {
	revs, err := h.ActivationRevocations(account)
	rows := make([]ActivationRevocationRow, 0, len(revs))
	for _, r := range revs {
		rows = append(rows, ActivationRevocationRow{r.Export, r.Service, r.Account, r.Name, r.At.Unix()})
	}
	return rows, err
}

// ActivationRevocations renders activation revocations as a table.
func ActivationRevocations(w io.Writer, account string, rows []ActivationRevocationRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "account %s has no activation revocations\n", account)
		return err
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "EXPORT\tACCOUNT\tNAME\tREVOKES TOKENS ISSUED AT OR BEFORE\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Export, r.Account, r.Name, units.FormatTime(r.At, "-"))
	}
	return tw.Flush()
}
