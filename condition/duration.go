package condition

import (
	"fmt"
	"strconv"
	"time"
)

const day = 24 * time.Hour

// durationUnits are the units a duration may use. A month is 30 days: conditions must evaluate
// the same way in SQL and in Go at any instant, and calendar months would make "3mo" depend on
// the date it is evaluated on.
var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"s", time.Second},
	{"m", time.Minute},
	{"h", time.Hour},
	{"d", day},
	{"w", 7 * day},
	{"mo", 30 * day},
}

// span is a parsed duration.
type span struct {
	d time.Duration
}

// wholeDays reports the duration in days, and whether it is a whole number of days.
func (s span) wholeDays() (int64, bool) {
	return int64(s.d / day), s.d%day == 0
}

const durationHint = "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"

// parseDuration parses "<n><unit>": n a positive whole number without a sign or leading zeros,
// unit one of s, m, h, d, w, mo. Nothing else is accepted (no spaces, fractions or compound
// durations), so that a stored duration reads back exactly as written.
func parseDuration(s string) (span, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, suffix := s[:i], s[i:]
	if digits == "" || digits[0] == '0' || len(digits) > 12 {
		return span{}, fmt.Errorf("%s", durationHint)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return span{}, fmt.Errorf("%s", durationHint)
	}
	for _, u := range durationUnits {
		if u.suffix != suffix {
			continue
		}
		if n > int64(MaxDuration/u.unit) {
			return span{}, fmt.Errorf("must be at most 10 years (3650d)")
		}
		return span{d: time.Duration(n) * u.unit}, nil
	}
	return span{}, fmt.Errorf("%s", durationHint)
}

// ParseDuration parses a duration as conditions write it ("30s", "15m", "12h", "14d", "2w",
// "3mo"): a positive whole number without a sign or leading zeros and one unit, a month being
// 30 days, at most MaxDuration. Other packages use it so that every duration Steward stores
// (a play's waits, timeouts and intervals) reads and means the same as in a condition. The
// error is a message for a user ("must be a duration such as ..."), to attach to the field that
// held s.
func ParseDuration(s string) (time.Duration, error) {
	sp, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	return sp.d, nil
}
