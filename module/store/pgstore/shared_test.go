package pgstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/store"
)

// listener runs Listen on s until the test ends and passes on what it
// hears and reports.
type listener struct {
	heard     chan string
	connected chan bool
}

func listen(t *testing.T, s *Store) *listener {
	t.Helper()
	l := &listener{heard: make(chan string, 100), connected: make(chan bool, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Listen(ctx, func(topic string) { l.heard <- topic }, func(up bool) { l.connected <- up })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return l
}

// probe is the topic of the announcements by which a test sees that a
// listener is listening; expect passes over them.
const probe = "probe"

// waitListening announces probes on s until l hears one, so that l's
// LISTEN is in place. An announcement may fail on a pooled connection
// that a server restart ended.
func (l *listener) waitListening(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var err error
	for {
		err = s.Announce(t.Context(), probe)
		select {
		case topic := <-l.heard:
			if topic == probe {
				return
			}
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("Listen heard no announcement within 10 s (last Announce: %v)", err)
		}
	}
}

// expect waits up to within for l to hear topic, passing over probes.
func (l *listener) expect(t *testing.T, topic string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case got := <-l.heard:
			if got == probe {
				continue
			}
			if got != topic {
				t.Fatalf("heard %q, want %q", got, topic)
			}
			return
		case <-timeout:
			t.Fatalf("%q not heard within %v", topic, within)
		}
	}
}

// TestAnnounce: an announcement of one gateway is heard within a second
// by every gateway on the database, itself included.
func TestAnnounce(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn, Options{}), open(t, dsn, Options{})
	la, lb := listen(t, a), listen(t, b)
	la.waitListening(t, a)
	lb.waitListening(t, b)

	if err := a.Announce(t.Context(), store.TopicRevoked); err != nil {
		t.Fatal(err)
	}
	lb.expect(t, store.TopicRevoked, time.Second)
	la.expect(t, store.TopicRevoked, time.Second)
	if err := b.Announce(t.Context(), store.TopicSigningKeys); err != nil {
		t.Fatal(err)
	}
	la.expect(t, store.TopicSigningKeys, time.Second)
	lb.expect(t, store.TopicSigningKeys, time.Second)

	// A store on another database hears nothing of it.
	other := open(t, pgtest.DSN(t), Options{})
	lo := listen(t, other)
	lo.waitListening(t, other)
	if err := a.Announce(t.Context(), store.TopicOutgoingLinks); err != nil {
		t.Fatal(err)
	}
	lb.expect(t, store.TopicOutgoingLinks, time.Second)
	select {
	case got := <-lo.heard:
		if got != probe {
			t.Errorf("a store on another database heard %q", got)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestExclusively: of two gateways, the second waits for the lock until
// the first's fn returns; other names do not wait; waiting ends with the
// context.
func TestExclusively(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn, Options{}), open(t, dsn, Options{})
	ctx := t.Context()

	holding, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- a.Exclusively(ctx, "gc", func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding

	var secondRan atomic.Bool
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- b.Exclusively(ctx, "gc", func(context.Context) error {
			secondRan.Store(true)
			return nil
		})
	}()

	// Another lock is free meanwhile, on the same store too.
	if err := a.Exclusively(ctx, "refresh", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Exclusively of another name: %v", err)
	}
	// Waiting ends with the context.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := a.Exclusively(short, "gc", func(context.Context) error {
		t.Error("fn ran while another gateway held the lock")
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exclusively with an expiring context: got %v, want %v", err, context.DeadlineExceeded)
	}
	if secondRan.Load() {
		t.Fatal("the second gateway ran fn while the first held the lock")
	}

	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("first Exclusively: %v", err)
	}
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatalf("second Exclusively: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second gateway did not get the lock within 5 s of its release")
	}
	if !secondRan.Load() {
		t.Fatal("the second gateway's fn did not run")
	}

	// fn's error comes back, and the lock is released after it.
	errFn := errors.New("fn failed")
	if err := b.Exclusively(ctx, "gc", func(context.Context) error { return errFn }); !errors.Is(err, errFn) {
		t.Errorf("Exclusively: got %v, want fn's error", err)
	}
	short, cancel = context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Exclusively(short, "gc", func(context.Context) error { return nil }); err != nil {
		t.Errorf("Exclusively after a failed fn: %v", err)
	}
}

// TestListenReconnects: Listen reports the loss of its connection when the
// server stops and its return when the server is back, and hears
// announcements again. It has a server of its own, which it stops.
func TestListenReconnects(t *testing.T) {
	srv := pgtest.NewServer(t)
	s := open(t, srv.NewDatabase(t), Options{})
	l := listen(t, s)
	expectConnected(t, l, true, 5*time.Second) // the first connection too
	l.waitListening(t, s)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	expectConnected(t, l, false, 5*time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	expectConnected(t, l, true, 2*listenRetryMax)
	l.waitListening(t, s)
	if err := s.Announce(t.Context(), store.TopicRevoked); err != nil {
		t.Fatal(err)
	}
	l.expect(t, store.TopicRevoked, time.Second)
	select {
	case up := <-l.connected:
		t.Errorf("connected(%v) reported again", up)
	default:
	}
}

// expectConnected waits for l to report up.
func expectConnected(t *testing.T, l *listener, up bool, within time.Duration) {
	t.Helper()
	select {
	case got := <-l.connected:
		if got != up {
			t.Fatalf("connected(%v) reported, want connected(%v)", got, up)
		}
	case <-time.After(within):
		t.Fatalf("connected(%v) not reported within %v", up, within)
	}
}
