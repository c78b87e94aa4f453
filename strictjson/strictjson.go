// Package strictjson decodes JSON documents that people write and Steward stores (conditions,
// play definitions) strictly: repeated keys, trailing data and excessive nesting are refused,
// objects keep their keys in document order (so the first problem reported is the first in the
// text, and a document re-encodes as written), and every error is an *invalid.Error naming the
// path of the offending value.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stewardhq/steward/invalid"
)

// Object is a decoded JSON object with its keys in document order.
type Object struct {
	Keys []string
	Vals []any
}

// MarshalJSON re-encodes the object with its keys in document order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.Vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Plain turns decoded objects inside v into maps, for values whose key order does not matter.
func Plain(v any) any {
	switch t := v.(type) {
	case *Object:
		m := make(map[string]any, len(t.Keys))
		for i, k := range t.Keys {
			m[k] = Plain(t.Vals[i])
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Plain(e)
		}
		return out
	}
	return v
}

// Decode decodes one JSON value into string, json.Number, bool, nil, []any and *Object. root
// names the document in error paths ("condition", "definition"); values nested deeper than
// maxDepth are refused.
func Decode(raw []byte, root string, maxDepth int) (any, error) {
	d := decoder{dec: json.NewDecoder(bytes.NewReader(raw)), root: root, maxDepth: maxDepth}
	d.dec.UseNumber()
	v, err := d.value(root, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid.Field(root, "must be a single JSON value")
	}
	return v, nil
}

type decoder struct {
	dec      *json.Decoder
	root     string
	maxDepth int
}

func (d *decoder) syntaxError() error {
	return invalid.Field(d.root, "must be valid JSON (error near byte %d)", d.dec.InputOffset())
}

func (d *decoder) value(path string, depth int) (any, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntaxError()
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= d.maxDepth {
		return nil, invalid.Field(path, "is nested too deeply")
	}
	switch delim {
	case '{':
		obj := &Object{}
		seen := map[string]bool{}
		for d.dec.More() {
			kt, err := d.dec.Token()
			if err != nil {
				return nil, d.syntaxError()
			}
			key, _ := kt.(string) // the decoder only yields string keys
			p := path + "." + key
			if seen[key] {
				return nil, invalid.Field(p, "is repeated")
			}
			seen[key] = true
			v, err := d.value(p, depth+1)
			if err != nil {
				return nil, err
			}
			obj.Keys = append(obj.Keys, key)
			obj.Vals = append(obj.Vals, v)
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntaxError()
		}
		return obj, nil
	case '[':
		arr := []any{}
		for i := 0; d.dec.More(); i++ {
			v, err := d.value(fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntaxError()
		}
		return arr, nil
	}
	return nil, d.syntaxError()
}
