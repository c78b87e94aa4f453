package strictjson

import (
	"slices"

	"github.com/stewardhq/steward/invalid"
)

// Fields reads one decoded object at a path, for validators that name the exact key they
// refuse (play and journey definitions share it).
type Fields struct {
	Path string
	Obj  *Object
}

// AsObject returns v as Fields at path, or an error naming path when v is not an object.
func AsObject(v any, path string) (*Fields, error) {
	o, ok := v.(*Object)
	if !ok {
		return nil, invalid.Field(path, "must be an object")
	}
	return &Fields{Path: path, Obj: o}, nil
}

// At is the path of key.
func (f *Fields) At(key string) string { return f.Path + "." + key }

// Only refuses the first key, in document order, that is not allowed; what completes the
// message ("is not a known key of SEND_EMAIL steps").
func (f *Fields) Only(what string, allowed ...string) error {
	for _, k := range f.Obj.Keys {
		if !slices.Contains(allowed, k) {
			return invalid.Field(f.At(k), "is not a known key%s", what)
		}
	}
	return nil
}

// Raw returns key's value and whether the key is present, null included.
func (f *Fields) Raw(key string) (any, bool) {
	for i, k := range f.Obj.Keys {
		if k == key {
			return f.Obj.Vals[i], true
		}
	}
	return nil, false
}

// Get returns key's value; a null value counts as absent.
func (f *Fields) Get(key string) (any, bool) {
	v, ok := f.Raw(key)
	return v, ok && v != nil
}

// Str returns key's string value and whether it is present.
func (f *Fields) Str(key string) (string, bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, invalid.Field(f.At(key), "must be a string")
	}
	return s, true, nil
}
