package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

const (
	// notifyChannel is the PostgreSQL channel that carries announcements;
	// the payload is the topic.
	notifyChannel = "applinks"

	// Listen reconnects after a pause that starts at listenRetryMin and
	// doubles up to listenRetryMax while the database stays unreachable.
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second

	// TCP keep-alive probes of the listening connection, which is idle
	// between announcements: a peer gone without a word is noticed after
	// about listenKeepAliveIdle + listenKeepAliveCount × listenKeepAliveInterval.
	listenKeepAliveIdle     = 15 * time.Second
	listenKeepAliveInterval = 5 * time.Second
	listenKeepAliveCount    = 3

	// unlockTimeout bounds the release of a cluster-wide lock after fn
	// returned; when it fails, the connection is closed, which releases
	// the lock with its session.
	unlockTimeout = 5 * time.Second
)

// Announce tells every gateway listening on the database, this one
// included, that something of topic changed: a NOTIFY on one channel with
// the topic as payload.
func (s *Store) Announce(ctx context.Context, topic string) error {
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, topic); err != nil {
		return failed(err, "announcing "+strconv.Quote(topic))
	}
	return nil
}

// Listen delivers announcements until ctx ends, on a connection of its own
// (not one of the pool) that LISTENs on the channel. When that connection
// is lost, or cannot be made, connected(false) is called once and Listen
// reconnects with a growing pause; connected(true) is called once it
// listens, the first time included.
func (s *Store) Listen(ctx context.Context, heard func(topic string), connected func(bool)) {
	// up: the last report was connected(true). A failure before the
	// first connection is reported as connected(false) too.
	up, first := false, true
	pause := listenRetryMin
	for {
		conn, err := s.listenConn(ctx)
		if err == nil {
			if !up {
				if !first {
					s.logger.Info("listening for announcements again")
				}
				connected(true)
				up, first = true, false
			}
			pause = listenRetryMin
			err = deliver(ctx, conn, heard)
			closeConn(conn)
		}
		if ctx.Err() != nil {
			return
		}
		if up || first {
			first = false
			s.logger.Warn("lost the connection that carries announcements; caches are not told of changes until it is back", zap.Error(err))
			connected(false)
			up = false
		} else {
			s.logger.Debug("reconnecting to listen for announcements", zap.Error(err))
		}
		wait := time.NewTimer(pause/2 + rand.N(pause/2))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		pause = min(2*pause, listenRetryMax)
	}
}

// listenConn connects and listens on the channel.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.listen.Copy()
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable:   true,
		Idle:     listenKeepAliveIdle,
		Interval: listenKeepAliveInterval,
		Count:    listenKeepAliveCount,
	}}
	cfg.DialFunc = dialer.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listening: %w", err)
	}
	return conn, nil
}

// deliver calls heard with the payload of each notification on conn until
// ctx ends or the connection fails.
func deliver(ctx context.Context, conn *pgx.Conn, heard func(string)) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("waiting for notifications: %w", err)
		}
		heard(n.Payload)
	}
}

// closeConn closes a connection of Listen, giving the server a moment to
// hear of it.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// Exclusively runs fn while this gateway holds the cluster-wide lock named
// name: a session advisory lock on a pooled connection, held until fn
// returns. Waiting for the lock ends with ctx; the connection is then
// closed, with a cancel request to the server, so a lock granted at that
// moment goes with its session. A lost connection releases the lock too.
func (s *Store) Exclusively(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	key := lockKey("lock " + name)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return failed(err, "taking lock "+strconv.Quote(name))
	}
	// pgx closes a connection whose query ctx interrupts, so it never
	// returns to the pool holding the lock.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		conn.Release()
		return failed(err, "taking lock "+strconv.Quote(name))
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx)
			s.logger.Warn("releasing lock; closed its connection instead", zap.String("lock", name), zap.Error(err))
		}
		conn.Release()
	}()
	return fn(ctx)
}
