// Package jsondiff compares two values field by field through their JSON
// form: what an audit entry records of a changed JWT's claims, and what a
// plan shows of a change.
package jsondiff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Change is one field that differs: its path (dot-separated JSON keys,
// array indexes in brackets), and its old and new values as compact JSON
// ("" when absent).
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

func (c Change) String() string {
	switch {
	case c.Old == "":
		return c.Path + ": " + c.New
	case c.New == "":
		return c.Path + ": " + c.Old + " → (removed)"
	}
	return c.Path + ": " + c.Old + " → " + c.New
}

// Diff returns the fields where a and b differ, sorted by path. ignore
// names paths (and everything below them) to leave out, such as "iat" or
// "jti". A nil value is an empty object.
func Diff(a, b any, ignore ...string) ([]Change, error) {
	fa, err := flatten(a)
	if err != nil {
		return nil, err
	}
	fb, err := flatten(b)
	if err != nil {
		return nil, err
	}
	skip := func(p string) bool {
		for _, ig := range ignore {
			if p == ig || strings.HasPrefix(p, ig+".") || strings.HasPrefix(p, ig+"[") {
				return true
			}
		}
		return false
	}
	var out []Change
	for p, va := range fa {
		if skip(p) {
			continue
		}
		if vb, ok := fb[p]; !ok || vb != va {
			out = append(out, Change{Path: p, Old: va, New: fb[p]})
		}
	}
	for p, vb := range fb {
		if _, ok := fa[p]; !ok && !skip(p) {
			out = append(out, Change{Path: p, New: vb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// flatten maps every leaf of v's JSON form to its compact JSON value.
// Empty objects and arrays are leaves ("{}", "[]") so that adding the first
// element shows.
func flatten(v any) (map[string]string, error) {
	out := map[string]string{}
	if v == nil {
		return out, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jsondiff: %w", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("jsondiff: %w", err)
	}
	walk("", tree, out)
	return out, nil
}

func walk(path string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 && path != "" {
			out[path] = "{}"
		}
		for k, c := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, c, out)
		}
	case []any:
		if len(t) == 0 {
			out[path] = "[]"
		}
		for i, c := range t {
			walk(path+"["+strconv.Itoa(i)+"]", c, out)
		}
	default:
		b, _ := json.Marshal(t)
		out[path] = string(b)
	}
}
