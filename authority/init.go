package authority

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// systemExports are the two exports nsc gives the system account, so that
// other accounts can import account-scoped monitoring.
func systemExports() jwt.Exports {
	const infoURL = "https://docs.nats.io/nats-server/configuration/sys_accounts"
	return jwt.Exports{
		&jwt.Export{
			Name:                 "account-monitoring-services",
			Subject:              "$SYS.REQ.ACCOUNT.*.*",
			Type:                 jwt.Service,
			ResponseType:         jwt.ResponseTypeStream,
			AccountTokenPosition: 4,
			Info: jwt.Info{
				Description: `Request account specific monitoring services for: SUBSZ, CONNZ, LEAFZ, JSZ and INFO`,
				InfoURL:     infoURL,
			},
		},
		&jwt.Export{
			Name:                 "account-monitoring-streams",
			Subject:              "$SYS.ACCOUNT.*.>",
			Type:                 jwt.Stream,
			AccountTokenPosition: 3,
			Info: jwt.Info{
				Description: `Account specific monitoring stream`,
				InfoURL:     infoURL,
			},
		},
	}
}

// Init creates a home in dir with a new operator named operatorName: an
// operator identity key and one operator signing key, the system account
// SYS (with the two system exports nsc creates, signed by the operator
// signing key) and its user sys with a creds file. The operator JWT names
// SYS as its system account.
//
// Init refuses, writing nothing, when dir already holds an operator (the
// error wraps ErrExists) or when operatorName is not a valid name.
func Init(dir, operatorName string) (*Home, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	p := newProblems("init operator %s in %s", operatorName, abs)
	if err := CheckName("operator", operatorName); err != nil {
		p.add("%v", err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		p.add("%s is not a directory", abs)
	}
	if names, err := operatorNames(abs); err != nil {
		p.add("%v", err)
	} else if len(names) > 0 {
		p.addKind(ErrExists, "operator %s already exists in %s; natsauth will not overwrite it", strings.Join(names, ", "), abs)
	}
	if err := p.err(); err != nil {
		return nil, err
	}

	if _, err := mkdirs(abs); err != nil {
		return nil, fmt.Errorf("init %s: %w", abs, err)
	}
	h := &Home{dir: abs, op: operatorName}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Check again under the lock: another natsauth may have won the race.
	if names, err := operatorNames(abs); err != nil || len(names) > 0 {
		if err != nil {
			return nil, fmt.Errorf("init %s: %w", abs, err)
		}
		return nil, fmt.Errorf("init %s: operator %s already exists: %w", abs, strings.Join(names, ", "), ErrExists)
	}

	var t txn
	opKP, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("init: create operator key: %w", err)
	}
	skKP, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("init: create operator signing key: %w", err)
	}
	sysKP, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("init: create system account key: %w", err)
	}
	usrKP, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("init: create system user key: %w", err)
	}
	for _, kp := range []nkeys.KeyPair{opKP, skKP, sysKP, usrKP} {
		if _, err := h.stageKey(&t, kp); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
	}

	sys := jwt.NewAccountClaims(pubKey(sysKP))
	sys.Name = SystemAccountName
	sys.Exports = systemExports()
	sysJWT, err := encodeAccount(sys, skKP, 0)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}

	oc := jwt.NewOperatorClaims(pubKey(opKP))
	oc.Name = operatorName
	oc.SigningKeys.Add(pubKey(skKP))
	oc.SystemAccount = sys.Subject
	opJWT, err := oc.Encode(opKP)
	if err != nil {
		return nil, fmt.Errorf("init: sign operator: %w", err)
	}
	h.opJWT, h.opClaims = opJWT, oc

	uc := jwt.NewUserClaims(pubKey(usrKP))
	uc.Name = SystemUserName
	usrJWT, err := uc.Encode(sysKP)
	if err != nil {
		return nil, fmt.Errorf("init: sign system user: %w", err)
	}
	creds, err := formatCreds(usrJWT, usrKP)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}

	info, err := json.Marshal(nscInfo{Name: operatorName, Kind: jwt.OperatorClaim, Version: "1"})
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	t.put(filepath.Join(h.keystoreDir(), ".gitignore"), []byte(keysGitIgnore))
	t.put(h.operatorJWTPath(), []byte(opJWT))
	t.put(h.accountJWTPath(SystemAccountName), []byte(sysJWT))
	t.put(h.userJWTPath(SystemAccountName, SystemUserName), []byte(usrJWT))
	t.put(h.CredsPath(SystemAccountName, SystemUserName), creds)
	// .nsc last: a home is only an operator once it has one.
	t.put(filepath.Join(h.operatorDir(), nscFileName), info)
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("init %s: %w", abs, err)
	}
	return h, nil
}

// formatCreds renders a creds file for a user JWT and its key.
func formatCreds(userJWT string, kp nkeys.KeyPair) ([]byte, error) {
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("format creds: %w", err)
	}
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		return nil, fmt.Errorf("format creds: %w", err)
	}
	return creds, nil
}
