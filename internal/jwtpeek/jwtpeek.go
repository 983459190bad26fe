// Package jwtpeek reads the claims a NATS JWT holds before its "nats"
// object — audience, expiry, ID, issue time, issuer, subject — without
// decoding the rest, which in an account with a few hundred revocations is
// almost all of it. It checks no signature: it is for indexing and
// comparing JWTs already checked, and says when a payload is not laid out
// as the jwt library writes it (the caller then decodes it in full).
package jwtpeek

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header is what comes before "nats" in a JWT's claims.
type Header struct {
	Aud, ID, Issuer, Subject string
	IssuedAt, Expires        int64
}

// Payload returns the JSON claims of a JWT, unchecked.
func Payload(tok string) ([]byte, error) {
	first := strings.IndexByte(tok, '.')
	last := strings.LastIndexByte(tok, '.')
	if first < 0 || last <= first {
		return nil, errors.New("not a JWT (want header.payload.signature)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok[first+1 : last])
	if err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	return raw, nil
}

// Scan reads the top-level claims of payload up to "nats"; ok is false
// when the payload is not laid out as the jwt library writes it (every
// top-level claim a string or a whole number, iat and sub among them,
// "nats" after them).
func Scan(p []byte) (h Header, ok bool) {
	i := 0
	skip := func() {
		for i < len(p) && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
			i++
		}
	}
	// raw returns a string's bytes, unquoted only when it has escapes.
	raw := func() ([]byte, bool) {
		if i >= len(p) || p[i] != '"' {
			return nil, false
		}
		start, escaped := i, false
		for i++; i < len(p); i++ {
			switch p[i] {
			case '\\':
				i++
				escaped = true
			case '"':
				i++
				if !escaped {
					return p[start+1 : i-1], true
				}
				s, err := strconv.Unquote(string(p[start:i]))
				return []byte(s), err == nil
			}
		}
		return nil, false
	}
	skip()
	if i >= len(p) || p[i] != '{' {
		return h, false
	}
	i++
	for {
		skip()
		key, ok := raw()
		if !ok {
			return h, false
		}
		skip()
		if i >= len(p) || p[i] != ':' {
			return h, false
		}
		i++
		skip()
		if string(key) == "nats" {
			// The jwt library writes iat and sub (and jti) before "nats".
			return h, h.IssuedAt != 0 && h.Subject != ""
		}
		if i < len(p) && p[i] == '"' {
			v, ok := raw()
			if !ok {
				return h, false
			}
			switch string(key) {
			case "aud":
				h.Aud = string(v)
			case "jti":
				h.ID = string(v)
			case "iss":
				h.Issuer = string(v)
			case "sub":
				h.Subject = string(v)
			}
		} else {
			start := i
			for i < len(p) && (p[i] == '-' || p[i] >= '0' && p[i] <= '9') {
				i++
			}
			n, err := strconv.ParseInt(string(p[start:i]), 10, 64)
			if err != nil {
				return h, false
			}
			switch string(key) {
			case "iat":
				h.IssuedAt = n
			case "exp":
				h.Expires = n
			}
		}
		skip()
		if i >= len(p) || p[i] != ',' {
			return h, false
		}
		i++
	}
}

// Claims returns the header claims of token: scanned when the payload is
// laid out as the jwt library writes it, else decoded in full. ok is false
// for a token whose payload is not JSON.
func Claims(token string) (h Header, ok bool) {
	raw, err := Payload(token)
	if err != nil {
		return Header{}, false
	}
	if h, ok := Scan(raw); ok {
		return h, true
	}
	var c struct {
		Aud      string `json:"aud"`
		Expires  int64  `json:"exp"`
		ID       string `json:"jti"`
		IssuedAt int64  `json:"iat"`
		Issuer   string `json:"iss"`
		Subject  string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Header{}, false
	}
	return Header{Aud: c.Aud, ID: c.ID, Issuer: c.Issuer, Subject: c.Subject, IssuedAt: c.IssuedAt, Expires: c.Expires}, true
}
