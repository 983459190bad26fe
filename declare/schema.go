package declare

import (
	"encoding/json"
	"fmt"
)

// SchemaID identifies the schema of this version.
const SchemaID = "https://github.com/natsauth/natsauth/schema/authority-v1.json"

// Schema returns the JSON Schema (draft 2020-12) of the file, built from
// the same field tables Parse reads, so that editors and CI can check a
// file before natsauth sees it. Values that take a unit ("1MB") or a
// variable are strings or integers; Parse checks them further.
func Schema() []byte {
	tier := objectSchema(jsFields, nil)
	perms := objectSchema(limitsFields, nil)
	acc := objectSchema(accountFields, map[string]map[string]any{
		"limits":              objectSchema(limitFields, nil),
		"jetstream":           tier,
		"jetstream-tiers":     {"type": "object", "additionalProperties": false, "properties": map[string]any{"R1": tier, "R3": tier}},
		"trace":               objectSchema(traceFields, nil),
		"default-permissions": objectSchema(permFields, nil),
		"signing-keys":        array(objectSchema(signingKeyFields, map[string]map[string]any{"template": perms})),
		"exports":             array(objectSchema(exportFields, map[string]map[string]any{"latency": objectSchema(latencyFields, nil)})),
		"imports":             array(objectSchema(importFields, nil)),
		"users":               nameMap(objectSchema(userFields, nil)),
	})
	root := objectSchema(fileFields, map[string]map[string]any{"accounts": nameMap(acc)})
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "natsauth authority file"
	root["description"] = "The accounts and users of a NATS operator, applied with natsauth plan/apply. Never holds a seed."
	root["required"] = []string{"version"}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic("declare: schema: " + err.Error())
	}
	return append(out, '\n')
}

// objectSchema is the schema of a mapping with exactly fields; nested gives the
// schemas of fields whose value is itself a mapping or list of them.
func objectSchema[T any](fields []field[T], nested map[string]map[string]any) map[string]any {
	props := map[string]any{}
	for _, f := range fields {
		s := f.schema
		if n, ok := nested[f.name]; ok {
			s = n
		}
		if s == nil {
			panic(fmt.Sprintf("declare: field %s has no schema", f.name))
		}
		p := map[string]any{}
		for k, v := range s {
			p[k] = v
		}
		if f.doc != "" {
			p["description"] = f.doc
		}
		props[f.name] = p
	}
	return map[string]any{"type": []string{"object", "null"}, "additionalProperties": false, "properties": props}
}

func array(item map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": item}
}

// nameMap is a mapping of names (accounts, users) to objects.
func nameMap(item map[string]any) map[string]any {
	return map[string]any{"type": []string{"object", "null"}, "additionalProperties": item}
}
