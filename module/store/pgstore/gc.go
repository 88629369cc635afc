package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// GarbageCollect deletes the codes, tokens (by the later of ExpiresAt and
// KeepUntil), grants (with their tokens), sessions, pending authorizations,
// signing keys, OAuth 1.0a request tokens and nonces that expired at or before now, in one transaction, and
// returns how many it deleted. Grants and signing keys without an expiry
// are kept.
func (s *Store) GarbageCollect(ctx context.Context, now time.Time) (int, error) {
	n := 0
	// The batch is one transaction, run again when it deadlocks with a
	// rotation (see DeleteGrant).
	err := s.retry(ctx, func() error {
		n = 0
		b := &pgx.Batch{}
		// The tokens of expired grants go before their grants, so that
		// they are counted.
		for _, sql := range []string{
			"DELETE FROM codes WHERE expires_at <= $1",
			"DELETE FROM tokens WHERE expiry <= $1",
			"DELETE FROM tokens t USING grants g WHERE t.grant_id = g.id AND g.expires_at <= $1",
			"DELETE FROM grants WHERE expires_at <= $1",
			"DELETE FROM sessions WHERE expires_at <= $1",
			"DELETE FROM pending WHERE expires_at <= $1",
			"DELETE FROM signing_keys WHERE expires_at <= $1",
			"DELETE FROM request_tokens WHERE expires_at <= $1",
			"DELETE FROM nonces WHERE expires_at <= $1",
		} {
			b.Queue(sql, now).Exec(func(tag pgconn.CommandTag) error {
				n += int(tag.RowsAffected())
				return nil
			})
		}
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, failed(err, "collecting expired records")
	}
	return n, nil
}
