package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// CountLoginFailures counts failed logins for emailKey since since.
func CountLoginFailures(ctx context.Context, idb bun.IDB, emailKey string, since time.Time) (int, error) {
	n, err := idb.NewSelect().Table("login_failures").
		Where("email_key = ? AND failed_at >= ?", emailKey, since).Count(ctx)
	if err != nil {
		return 0, mapErr("count login failures", err)
	}
	return int(n), nil
}

// RecordLoginFailure notes a failed login for emailKey and forgets failures older than
// forgetBefore, so the table stays as small as the throttling window.
func RecordLoginFailure(ctx context.Context, idb bun.IDB, emailKey string, at, forgetBefore time.Time) error {
	if _, err := idb.NewDelete().TableExpr("login_failures").
		Where("email_key = ? AND failed_at < ?", emailKey, forgetBefore).Exec(ctx); err != nil {
		return mapErr("forget old login failures", err)
	}
	if _, err := idb.NewRaw("INSERT INTO login_failures (email_key, failed_at) VALUES (?, ?)", emailKey, at).Exec(ctx); err != nil {
		return mapErr("record login failure", err)
	}
	return nil
}

// ClearLoginFailures forgets emailKey's failures after a successful login.
func ClearLoginFailures(ctx context.Context, idb bun.IDB, emailKey string) error {
	if _, err := idb.NewDelete().TableExpr("login_failures").Where("email_key = ?", emailKey).Exec(ctx); err != nil {
		return mapErr("clear login failures", err)
	}
	return nil
}
