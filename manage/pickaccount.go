package manage

import (
	"fmt"
	"strings"

	"github.com/natsauth/natsauth/authority"
)

// PickAccount returns name, or when it is "" the only account of h besides
// the system account; the errors tell a CLI user to name one with -a.
func PickAccount(h *authority.Home, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	accs, err := h.Accounts()
	if err != nil {
		return "", err
	}
	var names []string
	for _, acc := range accs {
		if !acc.System {
			names = append(names, acc.Name)
		}
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("there is no account yet: add one with natsauth add account -n NAME, or give -a %s", authority.SystemAccountName)
	}
	return "", fmt.Errorf("there are %d accounts (%s): choose one with -a ACCOUNT", len(names), strings.Join(names, ", "))
}
