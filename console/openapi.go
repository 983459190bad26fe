package console

import (
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// OpenAPI builds the OpenAPI 3.1 document of the API from the route table
// that registers the handlers, with JSON Schemas reflected from the
// request and response types.
func (s *Server) OpenAPI() map[string]any {
	schemas := map[string]any{}
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"responses":   responses(rt, schemas),
		}
		var params []any
		for _, name := range pathParams(rt.Path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": map[string]any{"type": "string"}})
		}
		if rt.Change && rt.Need != public {
			params = append(params, map[string]any{"name": "X-CSRF-Token", "in": "header",
				"description": "the session's CSRF token (from /api/session); needed with the session cookie, not with a bearer token",
				"schema":      map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Body), schemas)}}}
		}
		if rt.Need == public {
			op["security"] = []any{}
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = op
	}
	schemas["Problem"] = schemaOf(reflect.TypeOf(Problem{}), schemas)
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "natsauth console API", "version": "1",
			"description": "Manage a natsauth authority: every change goes through natsauth's management core, " +
				"is audited with the console user as actor and published to the home's servers. Errors are RFC 9457 problem documents. " +
				"202 Accepted with a not-applied problem means the change is saved in the home but did not reach every server."},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie},
				"token":   map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"session": []any{}}, map[string]any{"token": []any{}}},
	}
}

func (s *Server) openapi(c *call) error {
	writeJSON(c.w, http.StatusOK, s.OpenAPI())
	return nil
}

var paramRE = regexp.MustCompile(`\{([a-z]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range paramRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

func operationID(rt route) string {
	parts := []string{strings.ToLower(rt.Method)}
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Path, "/api/"), "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer("-", "", ".", "").Replace(seg)
		if seg != "" {
			parts = append(parts, strings.ToUpper(seg[:1])+seg[1:])
		}
	}
	return strings.Join(parts, "")
}

func responses(rt route, schemas map[string]any) map[string]any {
	problem := map[string]any{"description": "a problem (RFC 9457)", "content": map[string]any{
		"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	out := map[string]any{"default": problem}
	ok := "200"
	switch {
	case rt.Method == "POST" && rt.Path == "/api/accounts/{account}/users/{user}/creds":
		out[ok] = map[string]any{"description": "the creds file", "content": map[string]any{
			"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}
		return out
	case rt.Reply == nil:
		out["204"] = map[string]any{"description": "done"}
		return out
	case rt.Method == "POST" && rt.Path != "/api/login":
		ok = "201"
	}
	out[ok] = map[string]any{"description": "ok", "content": map[string]any{
		"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(rt.Reply), schemas)}}}
	if _, isChange := rt.Reply.(ChangeResult); isChange {
		out["202"] = map[string]any{"description": "saved in the home, not applied by every server", "content": map[string]any{
			"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

// schemaRef returns a $ref to a named struct's schema (adding it) or an
// inline schema.
func schemaRef(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != timeType && t.Name() != "" {
		name := t.Name()
		if t.PkgPath() != "" && !strings.HasSuffix(t.PkgPath(), "/console") {
			name = t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:] + "." + name
		}
		name = strings.NewReplacer(".", "_").Replace(name)
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // breaks cycles
			schemas[name] = schemaOf(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return schemaOf(t, schemas)
}

func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(Num{}):
		return map[string]any{"type": []any{"integer", "string"}, "description": "a number, a size like 1MB, or unlimited (-1)"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaRef(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaRef(t.Elem(), schemas)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		addFields(t, props, schemas)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, schemas map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, schemas)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		sc := schemaRef(f.Type, schemas)
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := sc["$ref"]; isRef {
				sc = map[string]any{"allOf": []any{sc}, "description": d}
			} else {
				sc["description"] = d
			}
		}
		props[name] = sc
	}
}
