package callout

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
)

// Identity sources, as rules name them (match.source).
const (
	SourceOIDC     = "oidc"     // an OpenID Connect ID or access token sent as the connect token
	SourcePassword = "password" // a natsauth password user (connect user and password)
	SourceTLS      = "tls"      // a client certificate verified by the server
)

// Identity is who a connecting client proved to be, as rules and
// templates see it. It never holds the token or password that proved it.
type Identity struct {
	// Source is SourceOIDC, SourcePassword or SourceTLS.
	Source string
	// Provider is the name of the OpenID provider (SourceOIDC).
	Provider string
	// Issuer is the token's issuer (SourceOIDC) or the certificate's
	// issuer DN (SourceTLS).
	Issuer string
	// Subject is the token's sub, the password user's name, or the
	// certificate's subject DN.
	Subject string
	// Audience is the token's aud (SourceOIDC).
	Audience []string
	// Username names the NATS user issued: the provider's username claim,
	// the password user's name, or the certificate's common name.
	Username string
	// Claims are the token's claims (SourceOIDC); for the other sources the
	// same names describe them: sub, name, groups (password) or sub, cn, o,
	// ou, dns, email, uri, ip, issuer, fingerprint (tls).
	Claims map[string]any
	// Cert describes the client certificate (SourceTLS).
	Cert *Cert
	// Expires is when the proof expires (the token's exp), if it does.
	Expires time.Time
	// Rev is the password user's revision when it was checked.
	Rev int64
}

// Key identifies the identity across connections, for revocation:
// "password:alice", "oidc:<provider>:<sub>", "tls:<fingerprint>".
func (id *Identity) Key() string {
	switch id.Source {
	case SourceOIDC:
		return "oidc:" + id.Provider + ":" + id.Subject
	case SourceTLS:
		if id.Cert != nil {
			return "tls:" + id.Cert.Fingerprint
		}
	}
	return id.Source + ":" + id.Subject
}

// Cert is what rules can match of a verified client certificate.
type Cert struct {
	Subject            string // RFC 2253 DN, e.g. "CN=svc,O=Acme"
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	DNS                []string
	Email              []string
	URI                []string
	IP                 []string
	Issuer             string // issuer DN
	Fingerprint        string // SHA-256 of the DER certificate, hex
}

// certFields maps rule field names to a certificate's values.
func (c *Cert) fields() map[string][]string {
	return map[string][]string{
		"subject": {c.Subject}, "cn": {c.CommonName}, "o": c.Organization, "ou": c.OrganizationalUnit,
		"dns": c.DNS, "email": c.Email, "uri": c.URI, "ip": c.IP, "issuer": {c.Issuer},
		"fingerprint": {c.Fingerprint},
	}
}

// CertFields are the certificate field names rules may match (match.cert).
var CertFields = []string{"subject", "cn", "o", "ou", "dns", "email", "uri", "ip", "issuer", "fingerprint"}

// errNoVerifiedCert means the request carried no certificate chain that
// the server verified.
var errNoVerifiedCert = errors.New("no verified client certificate")

// certIdentity reads the leaf of the first chain nats-server verified.
// Unverified peer certificates (tls.Certs) are never used: only a chain
// the server checked against its CA proves anything.
func certIdentity(t *jwt.ClientTLS) (*Identity, error) {
	if t == nil || len(t.VerifiedChains) == 0 || len(t.VerifiedChains[0]) == 0 {
		return nil, errNoVerifiedCert
	}
	block, _ := pem.Decode([]byte(t.VerifiedChains[0][0]))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("client certificate: not PEM")
	}
	return certIdentityFromDER(block.Bytes)
}

func certIdentityFromDER(der []byte) (*Identity, error) {
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	c := &Cert{
		Subject:            crt.Subject.String(),
		CommonName:         crt.Subject.CommonName,
		Organization:       crt.Subject.Organization,
		OrganizationalUnit: crt.Subject.OrganizationalUnit,
		DNS:                crt.DNSNames,
		Email:              crt.EmailAddresses,
		Issuer:             crt.Issuer.String(),
		Fingerprint:        hex.EncodeToString(sum[:]),
	}
	for _, u := range crt.URIs {
		c.URI = append(c.URI, u.String())
	}
	for _, ip := range crt.IPAddresses {
		c.IP = append(c.IP, ip.String())
	}
	claims := map[string]any{"sub": c.Subject, "issuer": c.Issuer, "fingerprint": c.Fingerprint, "cn": c.CommonName}
	for k, v := range map[string][]string{"o": c.Organization, "ou": c.OrganizationalUnit, "dns": c.DNS,
		"email": c.Email, "uri": c.URI, "ip": c.IP} {
		claims[k] = toAny(v)
	}
	return &Identity{Source: SourceTLS, Issuer: c.Issuer, Subject: c.Subject, Username: c.CommonName,
		Claims: claims, Cert: c, Expires: crt.NotAfter}, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
