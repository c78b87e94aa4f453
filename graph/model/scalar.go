package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// dateLayout is how Date values are written: a calendar day with no time zone.
const dateLayout = "2006-01-02"

// Date is a calendar day (renewal dates), exchanged as "YYYY-MM-DD".
type Date struct{ time.Time }

// UnmarshalGQL reads "YYYY-MM-DD".
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("date must be a string in the form YYYY-MM-DD")
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return fmt.Errorf("date must be in the form YYYY-MM-DD")
	}
	d.Time = t
	return nil
}

// MarshalGQL writes "YYYY-MM-DD".
func (d Date) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(d.Format(dateLayout)))
}

// JSON is a JSON object (custom attributes, event properties), kept as raw bytes.
type JSON json.RawMessage

// UnmarshalGQL accepts a JSON object only: attributes are keyed values.
func (j *JSON) UnmarshalGQL(v any) error {
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("must be a JSON object")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("must be a JSON object: %w", err)
	}
	*j = b
	return nil
}

// MarshalGQL writes the raw JSON, or {} when empty.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "{}")
		return
	}
	_, _ = w.Write(j)
}
