// Package tlsgen makes development TLS material for NATS: a private CA, a
// server certificate for localhost (and any other names) and a client
// certificate for mutual TLS, all ECDSA P-256.
//
// The CA's private key is discarded once the two certificates are signed,
// so nothing else can ever be issued under it; generate a new set to change
// the names. This is for development and tests: production servers should
// use certificates from the organisation's own CA.
package tlsgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/natsauth/natsauth/internal/fsx"
)

// File names written into the output directory. The server's names match
// the walkthrough's nats-server.conf tls block.
const (
	CAFile         = "ca.pem"
	ServerCertFile = "server-cert.pem"
	ServerKeyFile  = "server-key.pem"
	ClientCertFile = "client-cert.pem"
	ClientKeyFile  = "client-key.pem"
)

// ClientCommonName is the subject common name of the client certificate.
const ClientCommonName = "natsauth client"

// DefaultValidity is how long generated certificates are valid: about a
// year, below the 398 days clients such as browsers accept for leaves.
const DefaultValidity = 365 * 24 * time.Hour

// Options tune Generate.
type Options struct {
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// besides localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Validity of every certificate (DefaultValidity when zero).
	Validity time.Duration
	// Overwrite replaces existing files; without it Generate refuses to
	// touch a directory that already holds any of them.
	Overwrite bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Files describes what Generate wrote.
type Files struct {
	Dir                   string
	CA                    string // CA certificate (public; clients and servers trust it)
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	ServerNames           []string // DNS names and IPs in the server certificate
	NotAfter              time.Time
	// DirShared is set when dir existed and others may read it (group or
	// other permission bits): the caller should warn, keys are private.
	DirShared bool
}

// CheckHosts reports every host that is neither an IP address nor a valid
// DNS name (a leading "*." wildcard allowed).
func CheckHosts(hosts []string) error {
	var bad []string
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			continue
		}
		if err := checkDNSName(h); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func checkDNSName(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(h) > 253 {
		return fmt.Errorf("host %q is not a DNS name or IP address", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("host %q is not a DNS name or IP address", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("host %q is not a DNS name or IP address", h)
			}
		}
	}
	return nil
}

// Generate writes a CA certificate, a server certificate and key, and a
// client certificate and key into dir (created 0700 when missing; keys are
// 0600, certificates 0644). It writes nothing when an input is invalid or,
// unless o.Overwrite, when one of the files exists.
func Generate(dir string, o Options) (*Files, error) {
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Validity < 0 {
		return nil, fmt.Errorf("generate tls: validity %v is negative", o.Validity)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := CheckHosts(o.Hosts); err != nil {
		return nil, fmt.Errorf("generate tls: %w", err)
	}
	f := &Files{
		Dir:        dir,
		CA:         filepath.Join(dir, CAFile),
		ServerCert: filepath.Join(dir, ServerCertFile),
		ServerKey:  filepath.Join(dir, ServerKeyFile),
		ClientCert: filepath.Join(dir, ClientCertFile),
		ClientKey:  filepath.Join(dir, ClientKeyFile),
	}
	paths := []string{f.CA, f.ServerCert, f.ServerKey, f.ClientCert, f.ClientKey}
	if !o.Overwrite {
		var exist []string
		for _, p := range paths {
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, filepath.Base(p))
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("generate tls: %s already holds %s; use a new directory or overwrite: %w",
				dir, strings.Join(exist, ", "), ErrExists)
		}
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("generate tls: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("generate tls: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("generate tls: %s is not a directory", dir)
	default:
		f.DirShared = fi.Mode().Perm()&0o077 != 0
	}

	now := o.Now().UTC()
	notBefore := now.Add(-5 * time.Minute) // tolerate small clock skew
	f.NotAfter = now.Add(o.Validity)

	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"natsauth development"}, CommonName: "natsauth development CA"},
		NotBefore:             notBefore,
		NotAfter:              f.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := sign(caTmpl, nil, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate tls: CA: %w", err)
	}

	srvKey, err := newKey()
	if err != nil {
		return nil, err
	}
	dns, ips := serverNames(o.Hosts)
	srvTmpl := &x509.Certificate{
		Subject:   pkix.Name{Organization: []string{"natsauth development"}, CommonName: dns[0]},
		NotBefore: notBefore,
		NotAfter:  f.NotAfter,
		KeyUsage:  x509.KeyUsageDigitalSignature,
		// ClientAuth too: cluster routes and leaf nodes present the server
		// certificate as a client.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    dns,
		IPAddresses: ips,
	}
	srvDER, _, err := sign(srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate tls: server certificate: %w", err)
	}
	f.ServerNames = append(f.ServerNames, dns...)
	for _, ip := range ips {
		f.ServerNames = append(f.ServerNames, ip.String())
	}

	cliKey, err := newKey()
	if err != nil {
		return nil, err
	}
	cliTmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"natsauth development"}, CommonName: ClientCommonName},
		NotBefore:   notBefore,
		NotAfter:    f.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cliDER, _, err := sign(cliTmpl, caCert, &cliKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate tls: client certificate: %w", err)
	}

	srvKeyPEM, err := keyPEM(srvKey)
	if err != nil {
		return nil, err
	}
	cliKeyPEM, err := keyPEM(cliKey)
	if err != nil {
		return nil, err
	}
	writes := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, certPEM(caDER), 0o644},
		{f.ServerCert, certPEM(srvDER), 0o644},
		{f.ServerKey, srvKeyPEM, 0o600},
		{f.ClientCert, certPEM(cliDER), 0o644},
		{f.ClientKey, cliKeyPEM, 0o600},
	}
	for _, w := range writes {
		if err := writeFile(w.path, w.data, w.mode); err != nil {
			return nil, fmt.Errorf("generate tls: %w", err)
		}
	}
	return f, nil
}

// serverNames returns the DNS names (localhost first) and IP addresses of
// the server certificate, without duplicates.
func serverNames(hosts []string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	seenDNS := map[string]bool{"localhost": true}
	seenIP := map[string]bool{"127.0.0.1": true, "::1": true}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !seenIP[ip.String()] {
				seenIP[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		k := strings.ToLower(h)
		if !seenDNS[k] {
			seenDNS[k] = true
			dns = append(dns, h)
		}
	}
	return dns, ips
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate tls: create key: %w", err)
	}
	return k, nil
}

// sign issues tmpl with a random serial, signed by parent (self-signed when
// parent is nil), and returns the DER and the parsed certificate.
func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return der, c, nil
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("generate tls: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile replaces path with data at mode, atomically (fsx.WriteFile).
func writeFile(path string, data []byte, mode os.FileMode) error {
	return fsx.WriteFile(path, data, mode)
}

// ErrExists means the directory already holds files Generate would write.
var ErrExists = errors.New("files exist")

// LoadCAPool reads PEM CA certificates from path.
func LoadCAPool(path string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// WriteWarnings warns on w about a directory others can read, where the
// keys are private but the material should not be.
func (f *Files) WriteWarnings(w io.Writer) {
	if f.DirShared {
		fmt.Fprintf(w, "warning: %s can be read by other users; the keys are 0600, but keep TLS material in a 0700 directory (chmod 700 %s)\n",
			f.Dir, f.Dir)
	}
}

// WriteText tells people what was written and how servers (stock
// nats-server too) and clients use it.
func (f *Files) WriteText(w io.Writer) {
	fmt.Fprintf(w, "wrote development TLS material to %s (valid until %s; the CA key was discarded)\n",
		f.Dir, f.NotAfter.Format("2006-01-02"))
	fmt.Fprintf(w, "  %-40s CA certificate: clients and servers trust it\n", f.CA)
	fmt.Fprintf(w, "  %-40s server certificate for %s\n", f.ServerCert, strings.Join(f.ServerNames, ", "))
	fmt.Fprintf(w, "  %-40s server key (0600)\n", f.ServerKey)
	fmt.Fprintf(w, "  %-40s client certificate for mutual TLS\n", f.ClientCert)
	fmt.Fprintf(w, "  %-40s client key (0600)\n", f.ClientKey)
	fmt.Fprintf(w, "\nserve with TLS:\n  natsauth serve --tls-cert %s --tls-key %s\n", f.ServerCert, f.ServerKey)
	fmt.Fprintf(w, "and require client certificates (mutual TLS):\n  natsauth serve --tls-cert %s --tls-key %s --tls-ca %s --tls-verify\n",
		f.ServerCert, f.ServerKey, f.CA)
	fmt.Fprintf(w, "or in nats-server.conf:\n  tls {\n    cert_file: %q\n    key_file: %q\n    ca_file: %q\n    verify: true\n  }\n",
		f.ServerCert, f.ServerKey, f.CA)
	fmt.Fprintf(w, "clients:\n  nats --creds USER.creds --tlsca %s [--tlscert %s --tlskey %s] ...\n", f.CA, f.ClientCert, f.ClientKey)
	fmt.Fprintf(w, "  Go: nats.RootCAs(%q), nats.ClientCert(%q, %q)\n", f.CA, f.ClientCert, f.ClientKey)
}
