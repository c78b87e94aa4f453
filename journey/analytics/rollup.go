package analytics

import (
	"math"
	"time"

	"github.com/stewardhq/steward/db"
)

// The rollup (migration 20261204000011_journey_rollup) keeps, per UTC day of enrolment,
// milestone funnel counts, cohort status counts, and histograms of the completed rows'
// durations; the histograms are also kept per UTC month. A report reads whole months from the
// monthly histograms, the remaining whole days from the daily tables, and the rows of the
// partial days at either end of its range exactly, adding their values into the same buckets,
// so counts are exact for any range and a percentile is only as approximate as its buckets.

// PercentileBound is the relative error of a reported percentile (durations, overruns and
// days to complete): each value is read as the geometric middle of its histogram bucket, and
// buckets are 2% wide, so a percentile is within 1% of the exact one (percentile_cont over the
// same rows). Values under a minute share one bucket and are read as 30 s; zero is exact.
const PercentileBound = 0.01

// bucketRatio is the width of a histogram bucket; bucketBase is the lower edge, in seconds, of
// bucket 2 (journey_rollup_bucket in SQL).
const (
	bucketRatio = 1.02
	bucketBase  = 60.0
)

// bucketValue is the value, in seconds, a histogram bucket stands for: 0 for bucket 0 (values
// <= 0), 30 s for bucket 1 (under a minute), the geometric middle of [60·1.02^(b-2),
// 60·1.02^(b-1)) for the others.
func bucketValue(b int) float64 {
	switch {
	case b <= 0:
		return 0
	case b == 1:
		return bucketBase / 2
	}
	return bucketBase * math.Pow(bucketRatio, float64(b-2)+0.5)
}

// bucketCount is the number of values a histogram holds in one bucket.
type bucketCount struct {
	Bucket int
	N      int
}

// percentiles answers the percentiles ps (fractions) of a histogram sorted by bucket the way
// percentile_cont does: at rank p·(n-1), interpolating linearly between the two values around
// it, each value read as its bucket's value. Nil when the histogram is empty.
func percentiles(h []bucketCount, ps ...float64) []float64 {
	total := 0
	for _, b := range h {
		total += b.N
	}
	if total == 0 {
		return nil
	}
	// nth is the value of the k-th (0-based) smallest value.
	nth := func(k int) float64 {
		for _, b := range h {
			if k < b.N {
				return bucketValue(b.Bucket)
			}
			k -= b.N
		}
		return bucketValue(h[len(h)-1].Bucket)
	}
	out := make([]float64, len(ps))
	for i, p := range ps {
		r := p * float64(total-1)
		lo := math.Floor(r)
		vlo, vhi := nth(int(lo)), nth(int(math.Ceil(r)))
		out[i] = vlo + (r-lo)*(vhi-vlo)
	}
	return out
}

// span is how a report's range [From, To) is split between the rollup and the base rows:
// whole months [MonthFrom, MonthTo) from the monthly histograms, whole days [DayFrom, DayTo)
// outside those months from the daily tables (all of [DayFrom, DayTo) for the counts), and
// the rest of [From, To) exactly from the rows. Empty sub-ranges have from == to.
type span struct {
	From, To           time.Time
	DayFrom, DayTo     time.Time
	MonthFrom, MonthTo time.Time
}

func splitRange(from, to time.Time) span {
	from, to = from.UTC(), to.UTC()
	s := span{From: from, To: to}
	s.DayFrom, s.DayTo = ceilDay(from), to.Truncate(24*time.Hour)
	if !s.DayFrom.Before(s.DayTo) {
		s.DayFrom = s.DayTo
	}
	s.MonthFrom, s.MonthTo = ceilMonth(s.DayFrom), floorMonth(s.DayTo)
	if !s.MonthFrom.Before(s.MonthTo) {
		s.MonthFrom, s.MonthTo = s.DayFrom, s.DayFrom
	}
	return s
}

func ceilDay(t time.Time) time.Time {
	d := t.Truncate(24 * time.Hour)
	if d.Before(t) {
		d = d.Add(24 * time.Hour)
	}
	return d
}

func floorMonth(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func ceilMonth(t time.Time) time.Time {
	m := floorMonth(t)
	if m.Before(t) {
		m = m.AddDate(0, 1, 0)
	}
	return m
}

// dateArg is a UTC day as a PostgreSQL date literal, independent of the session's time zone.
func dateArg(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// exactSQL selects cols from table (alias a) over the rows of the span's partial days: the
// rows of q's journey (and version) enrolled in [From, DayFrom) and in [max(DayTo, From), To),
// with cond (" AND ...", may be empty) added. Two range scans joined by UNION ALL, so each
// uses the (workspace_id, journey_id, enrolled_at) indexes.
func exactSQL(cols, table, cond string, t db.Tenant, q Query, s span) (string, []any) {
	lo2 := s.DayTo
	if lo2.Before(s.From) {
		lo2 = s.From
	}
	var sqlText string
	var args []any
	for i, r := range [][2]time.Time{{s.From, s.DayFrom}, {lo2, s.To}} {
		if i > 0 {
			sqlText += "\n UNION ALL\n"
		}
		sqlText += "SELECT " + cols + " FROM " + table + " a WHERE a.workspace_id = ? AND a.journey_id = ? AND (?::int IS NULL OR a.version = ?::int)" +
			" AND a.enrolled_at >= ? AND a.enrolled_at < ?" + cond
		args = append(args, t.WorkspaceID, q.JourneyID, q.Version, q.Version, r[0], r[1])
	}
	return sqlText, args
}
