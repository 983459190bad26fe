package declare

import (
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
)

// The file's vocabulary: nsc's flag names, grouped as nsc groups them.

var fileFields = []field[File]{
	{"version", map[string]any{"type": "integer", "const": Version}, "the schema version of the file",
		func(*decoder, *yaml.Node, *File) {}},
	{"accounts", nil, "the operator's accounts by name (the system account is the operator's and is not listed)",
		func(d *decoder, n *yaml.Node, f *File) {
			if isNull(n) {
				return
			}
			if n.Kind != yaml.MappingNode {
				d.fail(n, "accounts: want a mapping of account names to their settings, not %s", describe(n))
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				a := authority.DesiredAccount{Name: d.str(k), Where: d.where(k), Limits: authority.DefaultLimits()}
				decodeMapping(d, n.Content[i+1], accountFields, &a)
				f.Accounts = append(f.Accounts, a)
			}
		}},
}

var accountFields = []field[authority.DesiredAccount]{
	{"public-key", sType("string", ""), "the account's public key, when its seed is held elsewhere (nsc add account --public-key); " +
		"left out, the home generates the key",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.PublicKey = d.str(n) }},
	{"description", sType("string", ""), "what the account is for",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.Description = d.str(n) }},
	{"info-url", sType("string", ""), "an http(s) URL with more about the account",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.InfoURL = d.str(n) }},
	{"tags", sList(""), "tags (kept in lower case)",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.Tags = d.strs(n) }},
	{"expiry", sTime(""), "when servers stop accepting the account",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.Expires = d.instant(n) }},
	{"start", sTime(""), "from when servers accept the account",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.Start = d.instant(n) }},
	{"limits", nil, "the account's limits; one left out is unlimited",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			decodeMapping(d, n, limitFields, &a.Limits)
		}},
	{"jetstream", nil, "JetStream for the account (left out: off); storage 0 is off, -1 unlimited, and the counts default to unlimited",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) { a.Limits.JetStreamLimits = d.jetstream(n) }},
	{"jetstream-tiers", nil, "JetStream limits per replication tier (R1, R3) instead of global ones",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			if n.Kind != yaml.MappingNode {
				d.fail(n, "jetstream-tiers: want a mapping of R1 and R3 to their limits")
				return
			}
			a.Limits.JetStreamTieredLimits = jwt.JetStreamTieredLimits{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Value != "R1" && k.Value != "R3" {
					d.fail(k, "jetstream tier %q: nats-server has the tiers R1 and R3", k.Value)
				}
				a.Limits.JetStreamTieredLimits[k.Value] = d.jetstream(resolve(n.Content[i+1]))
			}
		}},
	{"trace", nil, "message tracing: where traces of messages with a trace context go",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			a.Trace = &jwt.MsgTrace{}
			decodeMapping(d, n, traceFields, a.Trace)
			if a.Trace.Destination == "" {
				d.fail(n, "trace: give a subject")
			}
		}},
	{"default-permissions", nil, "the permissions of the account's users that have none of their own",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			decodeMapping(d, n, permFields, &a.DefaultPermissions)
		}},
	{"signing-keys", nil, "the account's signing keys; a key without a public key is one the home generates and keeps",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			for _, c := range d.list(n) {
				k := authority.DesiredSigningKey{Where: d.where(c)}
				if resolve(c).Kind == yaml.MappingNode && mapValue(c, "role") != nil {
					k.Template = jwt.NewUserScope().Template
				}
				decodeMapping(d, c, signingKeyFields, &k)
				a.SigningKeys = append(a.SigningKeys, k)
			}
		}},
	{"exports", nil, "streams and services the account exports",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			for _, c := range d.list(n) {
				x := authority.DesiredExport{Where: d.where(c), Export: jwt.Export{Type: jwt.Stream}}
				decodeMapping(d, c, exportFields, &x)
				if x.Export.Subject == "" {
					d.fail(c, "export: give its subject")
				}
				if x.Export.Latency != nil && x.Export.Latency.Results == "" {
					d.fail(c, "export: latency needs a subject")
				}
				a.Exports = append(a.Exports, x)
			}
		}},
	{"imports", nil, "streams and services the account imports from other accounts",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			for _, c := range d.list(n) {
				im := authority.DesiredImport{Where: d.where(c), Import: jwt.Import{Type: jwt.Stream}}
				decodeMapping(d, c, importFields, &im)
				if im.Account == "" || im.Import.Subject == "" {
					d.fail(c, "import: give its account and subject")
				}
				a.Imports = append(a.Imports, im)
			}
		}},
	{"users", nil, "the account's users by name",
		func(d *decoder, n *yaml.Node, a *authority.DesiredAccount) {
			if isNull(n) {
				return
			}
			if n.Kind != yaml.MappingNode {
				d.fail(n, "users: want a mapping of user names to their settings, not %s", describe(n))
				return
			}
			a.Users = slices.Grow(a.Users, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				u := authority.DesiredUser{Name: d.str(k), Where: d.where(k), Permissions: authority.DefaultUserLimits()}
				decodeMapping(d, n.Content[i+1], userFields, &u)
				a.Users = append(a.Users, u)
			}
		}},
}

var limitFields = []field[jwt.OperatorLimits]{
	{"max-connections", sCount(""), "client connections",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Conn = d.count(n) }},
	{"max-leafnodes", sCount(""), "leaf node connections",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.LeafNodeConn = d.count(n) }},
	{"max-data", sSize(""), "data in flight",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Data = d.size(n) }},
	{"max-exports", sCount(""), "exports",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Exports = d.count(n) }},
	{"max-imports", sCount(""), "imports",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Imports = d.count(n) }},
	{"max-payload", sSize(""), "message payload",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Payload = d.size(n) }},
	{"max-subscriptions", sCount(""), "subscriptions",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.Subs = d.count(n) }},
	{"disallow-bearer", sType("boolean", ""), "refuse bearer user JWTs",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.DisallowBearer = d.boolean(n) }},
	{"wildcard-exports", sType("boolean", ""), "allow exports with wildcards (default true)",
		func(d *decoder, n *yaml.Node, l *jwt.OperatorLimits) { l.WildcardExports = d.boolean(n) }},
}

// jetstream reads one tier's JetStream limits: nsc's defaults (counts
// unlimited) for what is left out; some storage must be given.
func (d *decoder) jetstream(n *yaml.Node) jwt.JetStreamLimits {
	js := jsDefaults()
	decodeMapping(d, n, jsFields, &js)
	if js.MemoryStorage == 0 && js.DiskStorage == 0 {
		d.fail(n, "jetstream: give mem-storage and/or disk-storage (-1 for unlimited): JetStream is on only with storage")
	}
	return js
}

// jsDefaults are the JetStream limits nsc writes for those not given.
func jsDefaults() jwt.JetStreamLimits {
	return jwt.JetStreamLimits{Streams: -1, Consumer: -1, MaxAckPending: -1, MemoryMaxStreamBytes: -1, DiskMaxStreamBytes: -1}
}

var jsFields = []field[jwt.JetStreamLimits]{
	{"mem-storage", sSize(""), "memory storage of all streams (0: none)",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.MemoryStorage = d.size(n) }},
	{"disk-storage", sSize(""), "disk storage of all streams (0: none)",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.DiskStorage = d.size(n) }},
	{"streams", sCount(""), "streams",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.Streams = d.count(n) }},
	{"consumer", sCount(""), "consumers",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.Consumer = d.count(n) }},
	{"max-ack-pending", sCount(""), "acks pending per consumer",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.MaxAckPending = d.count(n) }},
	{"max-mem-stream", sSize(""), "bytes of one memory stream",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.MemoryMaxStreamBytes = d.size(n) }},
	{"max-disk-stream", sSize(""), "bytes of one disk stream",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.DiskMaxStreamBytes = d.size(n) }},
	{"max-bytes-required", sType("boolean", ""), "streams must set max bytes",
		func(d *decoder, n *yaml.Node, j *jwt.JetStreamLimits) { j.MaxBytesRequired = d.boolean(n) }},
}

var traceFields = []field[jwt.MsgTrace]{
	{"subject", sType("string", ""), "where traces are published (no wildcards)",
		func(d *decoder, n *yaml.Node, t *jwt.MsgTrace) { t.Destination = jwt.Subject(d.subject(n)) }},
	{"sampling", sType("integer", ""), "percentage of messages traced, 1-100 (default 100)",
		func(d *decoder, n *yaml.Node, t *jwt.MsgTrace) { t.Sampling = d.integer(n, 1, 100) }},
}

var permFields = []field[jwt.Permissions]{
	{"allow-pub", sList(""), "subjects that may be published to",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) { p.Pub.Allow = d.subjects(n, false) }},
	{"allow-sub", sList(""), "subjects that may be subscribed to (\"subject queue\" for a queue group)",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) { p.Sub.Allow = d.subjects(n, true) }},
	{"deny-pub", sList(""), "subjects that may not be published to",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) { p.Pub.Deny = d.subjects(n, false) }},
	{"deny-sub", sList(""), "subjects that may not be subscribed to",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) { p.Sub.Deny = d.subjects(n, true) }},
	{"allow-pub-response", sType("integer", ""), "responses allowed per received request, on its reply subject (-1: unlimited)",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) {
			if p.Resp == nil {
				p.Resp = &jwt.ResponsePermission{}
			}
			p.Resp.MaxMsgs = d.integer(n, -1, 1<<30)
		}},
	{"response-ttl", sType("string", ""), "how long after a request its responses may be sent (5s, 1m)",
		func(d *decoder, n *yaml.Node, p *jwt.Permissions) {
			if p.Resp == nil {
				p.Resp = &jwt.ResponsePermission{}
			}
			p.Resp.Expires = d.duration(n)
		}},
}

// limitsFields are a user's (or a signing key template's) permissions and
// limits.
var limitsFields = append(lift(permFields, func(l *jwt.UserPermissionLimits) *jwt.Permissions { return &l.Permissions }),
	[]field[jwt.UserPermissionLimits]{
		{"bearer", sType("boolean", ""), "a bearer token: connects without proving it holds the seed",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.BearerToken = d.boolean(n) }},
		{"source-networks", sList(""), "networks (CIDR) or addresses allowed to connect",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.Src = d.networks(n) }},
		{"max-subscriptions", sCount(""), "subscriptions (nsc --subs)",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.Subs = d.count(n) }},
		{"max-data", sSize(""), "data in flight (nsc --data)",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.Data = d.size(n) }},
		{"max-payload", sSize(""), "message payload (nsc --payload)",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.Payload = d.size(n) }},
		{"conn-types", sList(""), "connection types allowed (STANDARD, WEBSOCKET, LEAFNODE, LEAFNODE_WS, MQTT, MQTT_WS, IN_PROCESS)",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.AllowedConnectionTypes = d.connTypes(n) }},
		{"times", sList(""), "connect-time windows hh:mm:ss-hh:mm:ss",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) { l.Times = d.times(n) }},
		{"locale", sType("string", ""), "the IANA time zone the windows are read in",
			func(d *decoder, n *yaml.Node, l *jwt.UserPermissionLimits) {
				l.Locale = d.str(n)
				if _, err := time.LoadLocation(l.Locale); err != nil {
					d.fail(n, "locale %q is not an IANA time zone such as Europe/Berlin or UTC", l.Locale)
				}
			}},
	}...)

var userFields = append(lift(limitsFields, func(u *authority.DesiredUser) *jwt.UserPermissionLimits { return &u.Permissions }),
	[]field[authority.DesiredUser]{
		{"public-key", sType("string", ""), "the user's public key when its seed is held elsewhere (no seed or creds in the home); " +
			"left out, the home generates the key",
			func(d *decoder, n *yaml.Node, u *authority.DesiredUser) { u.PublicKey = d.str(n) }},
		{"signing-key", sType("string", ""), "the role of the scoped signing key that signs the user: its template is the user's permissions",
			func(d *decoder, n *yaml.Node, u *authority.DesiredUser) { u.SigningKey = d.str(n) }},
		{"expiry", sTime(""), "when the user's JWT expires",
			func(d *decoder, n *yaml.Node, u *authority.DesiredUser) { u.Expires = d.instant(n) }},
		{"start", sTime(""), "from when the user's JWT is valid",
			func(d *decoder, n *yaml.Node, u *authority.DesiredUser) { u.Start = d.instant(n) }},
		{"tags", sList(""), "tags (kept in lower case)",
			func(d *decoder, n *yaml.Node, u *authority.DesiredUser) { u.Tags = d.strs(n) }},
	}...)

var signingKeyFields = []field[authority.DesiredSigningKey]{
	{"key", sType("string", ""), "the key's public key (its seed wherever it is); left out, the home generates and keeps the key",
		func(d *decoder, n *yaml.Node, k *authority.DesiredSigningKey) { k.Key = d.str(n) }},
	{"role", sType("string", ""), "makes the key scoped: users it signs get the template",
		func(d *decoder, n *yaml.Node, k *authority.DesiredSigningKey) { k.Role = d.str(n) }},
	{"template", nil, "a scoped key's user permissions and limits",
		func(d *decoder, n *yaml.Node, k *authority.DesiredSigningKey) {
			if k.Role == "" && mapValue(n, "role") == nil {
				k.Template = jwt.NewUserScope().Template
			}
			decodeMapping(d, n, limitsFields, &k.Template)
		}},
}

var exportFields = []field[authority.DesiredExport]{
	{"subject", sType("string", ""), "what is exported (wildcards allowed)",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) {
			x.Export.Subject = jwt.Subject(d.subject(n))
		}},
	{"type", sEnum("a stream (messages the account publishes; default) or a service (requests it answers)", "stream", "service"), "",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) {
			x.Export.Type = exportType(d.enum(n, "stream", "service"))
		}},
	{"name", sType("string", ""), "the export's name (default: its subject)",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.Name = d.str(n) }},
	{"private", sType("boolean", ""), "importers need an activation token",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.TokenReq = d.boolean(n) }},
	{"response-type", sEnum("services: how many responses a request gets", "Singleton", "Stream", "Chunked"), "",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) {
			x.Export.ResponseType = jwt.ResponseType(d.enum(n, "Singleton", "Stream", "Chunked"))
		}},
	{"response-threshold", sType("string", ""), "services: how long the importer waits for responses (5s)",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.ResponseThreshold = d.duration(n) }},
	{"latency", nil, "services: latency tracking",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) {
			x.Export.Latency = &jwt.ServiceLatency{}
			decodeMapping(d, n, latencyFields, x.Export.Latency)
		}},
	{"account-token-position", sType("integer", ""), "public exports: the '*' token (1-based) that importers fill with their account's public key",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) {
			x.Export.AccountTokenPosition = uint(d.integer(n, 1, 256))
		}},
	{"allow-trace", sType("boolean", ""), "services: let message traces cross the export",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.AllowTrace = d.boolean(n) }},
	{"description", sType("string", ""), "what the export is",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.Description = d.str(n) }},
	{"info-url", sType("string", ""), "an http(s) URL with more about it",
		func(d *decoder, n *yaml.Node, x *authority.DesiredExport) { x.Export.InfoURL = d.str(n) }},
}

var latencyFields = []field[jwt.ServiceLatency]{
	{"subject", sType("string", ""), "where latency samples are published",
		func(d *decoder, n *yaml.Node, l *jwt.ServiceLatency) { l.Results = jwt.Subject(d.subject(n)) }},
	{"sampling", map[string]any{"type": []string{"integer", "string"}}, "percentage of requests sampled, 1-100, or \"header\"",
		func(d *decoder, n *yaml.Node, l *jwt.ServiceLatency) {
			r, err := authority.ParseSampling(d.str(n))
			if err != nil {
				d.fail(n, "%v", err)
			}
			l.Sampling = r
		}},
}

var importFields = []field[authority.DesiredImport]{
	{"account", sType("string", ""), "the exporting account: a name of the file or the home, or an account public key",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) { im.Account = d.str(n) }},
	{"subject", sType("string", ""), "the subject as the exporter exports it (or a part of it)",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) {
			im.Import.Subject = jwt.Subject(d.subject(n))
		}},
	{"type", sEnum("stream (default) or service", "stream", "service"), "",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) {
			im.Import.Type = exportType(d.enum(n, "stream", "service"))
		}},
	{"local-subject", sType("string", ""), "the subject in the importing account ($1, $2 refer to wildcards)",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) {
			im.Import.LocalSubject = jwt.RenamingSubject(d.str(n))
		}},
	{"name", sType("string", ""), "the import's name (default: its subject)",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) { im.Import.Name = d.str(n) }},
	{"share", sType("boolean", ""), "services: share connection details with the exporter's latency samples",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) { im.Import.Share = d.boolean(n) }},
	{"allow-trace", sType("boolean", ""), "streams: let message traces cross the import",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) { im.Import.AllowTrace = d.boolean(n) }},
	{"token", sType("string", ""), "an activation token for a private export of an account managed elsewhere " +
		"(for an account of the home the token is signed at apply)",
		func(d *decoder, n *yaml.Node, im *authority.DesiredImport) { im.Import.Token = d.str(n) }},
}

func exportType(s string) jwt.ExportType {
	if s == "service" {
		return jwt.Service
	}
	return jwt.Stream
}
