package strictjson

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/invalid"
)

func TestDecodeKeepsOrderAndRoundTrips(t *testing.T) {
	t.Parallel()
	v, err := Decode([]byte(`{"b": 1, "a": [true, null, "x", {"z": 2.5}]}`), "doc", 5)
	require.NoError(t, err)
	obj := v.(*Object)
	require.Equal(t, []string{"b", "a"}, obj.Keys)
	out, err := json.Marshal(obj)
	require.NoError(t, err)
	require.Equal(t, `{"b":1,"a":[true,null,"x",{"z":2.5}]}`, string(out))
	require.Equal(t, map[string]any{"b": json.Number("1"), "a": []any{true, nil, "x", map[string]any{"z": json.Number("2.5")}}}, Plain(v))
}

func TestDecodeRefusesWithPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, field, msg string }{
		{`{"a": {"b": 1, "b": 2}}`, "doc.a.b", "is repeated"},
		{`{"a": [[[1]]]}`, "doc.a[0][0]", "is nested too deeply"},
		{`{"a": 1} {"b": 2}`, "doc", "must be a single JSON value"},
		{`{"a": }`, "doc", "must be valid JSON"},
		{``, "doc", "must be valid JSON"},
	} {
		_, err := Decode([]byte(tc.in), "doc", 3)
		e, ok := invalid.As(err)
		require.True(t, ok, "%s: %v", tc.in, err)
		require.Equal(t, tc.field, e.Field, tc.in)
		require.Contains(t, e.Message, tc.msg, tc.in)
	}
}
