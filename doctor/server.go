package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Varz is what the checks read from a server's /varz (or its
// $SYS.REQ.SERVER.PING.VARZ answer).
type Varz struct {
	ID           string `json:"server_id"`
	Name         string `json:"server_name"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	AuthRequired bool   `json:"auth_required"`
	TLSRequired  bool   `json:"tls_required"`
	TLSVerify    bool   `json:"tls_verify"`
	HTTPHost     string `json:"http_host"`
	HTTPPort     int    `json:"http_port"`
	HTTPSPort    int    `json:"https_port"`
}

// FetchVarz reads /varz from a monitoring URL (http://host:8222, with or
// without the /varz path).
func FetchVarz(ctx context.Context, client *http.Client, monitorURL string) (*Varz, error) {
	u := strings.TrimRight(monitorURL, "/")
	if !strings.HasSuffix(u, "/varz") {
		u += "/varz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("monitor %s: %w", monitorURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("monitor %s: %w", monitorURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("monitor %s: %w", monitorURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("monitor %s: %s", u, resp.Status)
	}
	var v Varz
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("monitor %s: not a /varz answer: %w", u, err)
	}
	return &v, nil
}

// CheckServer checks one server's /varz. source says where it came from
// (a monitoring URL, or the NATS URL it was asked through); command is how
// fixes invoke natsauth ("natsauth" when empty).
func CheckServer(source string, v *Varz, command string) []Finding {
	if command == "" {
		command = "natsauth"
	}
	obj := "server " + source
	if v.Name != "" && v.Name != v.ID {
		obj = "server " + v.Name + " (" + source + ")"
	}
	var out []Finding
	if !v.TLSRequired {
		out = append(out, Finding{Severity: High, Check: CheckServerTLS, Object: obj,
			Why: "clients connect in plain text: JWTs, the nonce signatures and every message cross the network readable and alterable",
			Fix: command + " generate tls --out tls && " + command +
				" serve --tls-cert tls/server-cert.pem --tls-key tls/server-key.pem   # or a tls {} block in the nats-server.conf"})
	}
	if !v.AuthRequired {
		out = append(out, Finding{Severity: High, Check: CheckServerAuth, Object: obj,
			Why: "the server does not require authentication: anyone who reaches it connects",
			Fix: command + " serve   # operator mode: every client needs a user JWT signed for a trusted account"})
	}
	// A port of -1 is a random one: still a listening port.
	if (v.HTTPPort != 0 || v.HTTPSPort != 0) && !loopback(v.HTTPHost) {
		host := v.HTTPHost
		if host == "" {
			host = "0.0.0.0"
		}
		port := v.HTTPPort
		if port == 0 {
			port = v.HTTPSPort
		}
		where := net.JoinHostPort(host, fmt.Sprint(port))
		if port < 0 {
			where = host + " (a random port)"
			port = 8222
		}
		out = append(out, Finding{Severity: Medium, Check: CheckMonitorExposed, Object: obj,
			Why: fmt.Sprintf("the monitoring port listens on %s: anyone who reaches it reads connections, user names, "+
				"subscriptions and accounts (/connz, /subsz, /accountz), without authentication", where),
			Fix: fmt.Sprintf(`%s serve -c nats-server.conf   # with  http: "127.0.0.1:%d"  (or firewall the port)`, command, port)})
	}
	return out
}

// loopback reports whether host only accepts local connections.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
