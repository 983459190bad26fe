package authority

import "errors"

// UserProblems adds to p what AddUser (edit: EditUser) would refuse about
// user name of account and e, without changing anything: a front door that
// already found problems reports them all at once. Empty names are left to
// the front door, which asks for them.
func (h *Home) UserProblems(p *Problems, account, name string, e UserEdit, edit bool) {
	if err := CheckName("user", name); name != "" && err != nil && !edit {
		p.Add("%v", err)
	}
	p.AddErr(e.Check())
	if _, err := h.User(account, name); account != "" && edit && name != "" {
		p.AddErr(err)
	} else if _, err := h.Account(account); account != "" && !edit {
		p.AddErr(err)
	}
}

// AccountProblems adds to p what AddAccount (edit: EditAccount) would
// refuse about account name and e, like UserProblems.
func (h *Home) AccountProblems(p *Problems, name string, e AccountEdit, edit bool) {
	p.AddErr(e.Check())
	_, err := h.Account(name)
	switch {
	case name != "" && (edit || errors.Is(err, ErrInvalid)):
		p.AddErr(err)
	case name != "" && err == nil:
		p.Add("account %q already exists", name)
	}
}
