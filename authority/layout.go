package authority

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names of the system account and its user, as nsc creates them.
const (
	SystemAccountName = "SYS"
	SystemUserName    = "sys"
)

// Directory and file names of the nsc-compatible layout.
const (
	storesDirName   = "stores"   // nsc --data-dir
	keysDirName     = "keys"     // nsc --keystore-dir
	keysSubDir      = "keys"     // keys/keys/<kind>/<shard>/<pub>.nk
	credsSubDir     = "creds"    // keys/creds/<op>/<account>/<user>.creds
	accountsDirName = "accounts" // stores/<op>/accounts/<account>/<account>.jwt
	usersDirName    = "users"    // .../accounts/<account>/users/<user>.jwt
	nscFileName     = ".nsc"
	lockFileName    = ".natsauth.lock"
	maxNameLen      = 128
)

// keysGitIgnore is the .gitignore nsc writes into a keystore.
const keysGitIgnore = `# ignore all nk files 
**/*.nk

# ignore all creds files
**/*.creds
`

func (h *Home) storesDir() string   { return filepath.Join(h.dir, storesDirName) }
func (h *Home) keystoreDir() string { return filepath.Join(h.dir, keysDirName) }
func (h *Home) operatorDir() string { return filepath.Join(h.storesDir(), h.op) }
func (h *Home) operatorJWTPath() string {
	return filepath.Join(h.operatorDir(), h.op+".jwt")
}
func (h *Home) accountsDir() string { return filepath.Join(h.operatorDir(), accountsDirName) }
func (h *Home) accountDir(name string) string {
	return filepath.Join(h.accountsDir(), name)
}
func (h *Home) accountJWTPath(name string) string {
	return filepath.Join(h.accountDir(name), name+".jwt")
}
func (h *Home) usersDir(account string) string {
	return filepath.Join(h.accountDir(account), usersDirName)
}
func (h *Home) userJWTPath(account, user string) string {
	return filepath.Join(h.usersDir(account), user+".jwt")
}
func (h *Home) credsDir(account string) string {
	return filepath.Join(h.keystoreDir(), credsSubDir, h.op, account)
}

// keyPath is where the seed of pub lives: keys/keys/<first char>/<chars
// 2-3>/<pub>.nk, as nsc stores it.
func (h *Home) keyPath(pub string) string {
	return filepath.Join(h.keystoreDir(), keysSubDir, pub[0:1], pub[1:3], pub+".nk")
}

// CheckName reports whether name may name an operator, account or user:
// it becomes a directory and file name, so it must be non-empty, at most
// 128 bytes of printable UTF-8, without '/', '\\', surrounding spaces or a
// leading '.'.
func CheckName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %.20q... is longer than %d bytes", kind, name, maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8", kind, name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%s name %q cannot contain '/' or '\\'", kind, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%s name %q cannot start with '.'", kind, name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%s name %q cannot start or end with a space", kind, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) && r != ' ' {
			return fmt.Errorf("%s name %q contains a control character", kind, name)
		}
	}
	return nil
}

// pruneKey is the shard directory of a deleted seed, pruned up to keys/keys.
func (h *Home) pruneKey(pub string) prune {
	return prune{filepath.Dir(h.keyPath(pub)), filepath.Join(h.keystoreDir(), keysSubDir)}
}

// AccountsDir is the directory holding one directory per account
// (stores/<Op>/accounts), which a running node watches for changes.
func (h *Home) AccountsDir() string { return h.accountsDir() }

// AccountJWTPath is the file holding the named account's JWT.
func (h *Home) AccountJWTPath(name string) string { return h.accountJWTPath(name) }
