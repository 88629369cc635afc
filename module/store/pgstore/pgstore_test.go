package pgstore

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/internal/pgtest"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on dsn, closed when the test ends.
func open(t testing.TB, dsn string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore opens a store on a new database.
func newStore(t *testing.T) store.Store {
	return open(t, pgtest.DSN(t), Options{})
}

func TestStore(t *testing.T) {
	storetest.RunTests(t, newStore)
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrencyTests(t, newStore)
}

// TestPoolConfig: pool settings the DSN leaves out get the store's
// defaults, those it names are kept, and a bad DSN's error hides its
// password.
func TestPoolConfig(t *testing.T) {
	cfg, err := poolConfig("postgres://alice@db.example/applinks")
	if err != nil {
		t.Fatal(err)
	}
	if want := int32(max(4, 4*runtime.GOMAXPROCS(0))); cfg.MaxConns != want {
		t.Errorf("MaxConns %d, want %d", cfg.MaxConns, want)
	}
	if cfg.HealthCheckPeriod != 30*time.Second || cfg.MaxConnLifetime != time.Hour || cfg.MaxConnLifetimeJitter != 5*time.Minute {
		t.Errorf("health check %v, lifetime %v, jitter %v; want 30s, 1h, 5m", cfg.HealthCheckPeriod, cfg.MaxConnLifetime, cfg.MaxConnLifetimeJitter)
	}
	if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "caddy-applinks" {
		t.Errorf("application_name %q", got)
	}

	cfg, err = poolConfig("user=alice host=db.example dbname=applinks pool_max_conns=3 pool_health_check_period=1m pool_max_conn_lifetime_jitter=0s application_name=mine")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 3 || cfg.HealthCheckPeriod != time.Minute || cfg.MaxConnLifetimeJitter != 0 {
		t.Errorf("MaxConns %d, health check %v, jitter %v; want the DSN's 3, 1m, 0s", cfg.MaxConns, cfg.HealthCheckPeriod, cfg.MaxConnLifetimeJitter)
	}
	if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "mine" {
		t.Errorf("application_name %q, want the DSN's", got)
	}

	_, err = poolConfig("postgres://alice:hunter2@db.example/applinks?pool_max_conns=lots")
	if err == nil {
		t.Fatal("a bad pool_max_conns was accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestUpdateUserCreatesOnce: concurrent updates of a user who does not
// exist yet create it once and lose none of the updates.
func TestUpdateUserCreatesOnce(t *testing.T) {
	s := open(t, pgtest.DSN(t), Options{})
	const n = 50
	var (
		wg      sync.WaitGroup
		errs    = make([]error, n)
		creates atomic.Int32
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.UpdateUser(t.Context(), "carol", func(u *store.User, exists bool) error {
				if !exists {
					creates.Add(1)
				}
				u.PasswordHash += "x"
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateUser %d: %v", i, err)
		}
	}
	u, err := s.GetUser(t.Context(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.PasswordHash) != n {
		t.Errorf("%d of %d updates kept", len(u.PasswordHash), n)
	}
	if creates.Load() < 1 {
		t.Error("no updater was told the user did not exist")
	}
}
