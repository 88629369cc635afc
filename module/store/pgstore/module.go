package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/storepool"
)

func init() {
	caddy.RegisterModule(new(Storage))
}

// Storage is the applinks.storage.postgres module: applinks state in a
// PostgreSQL database that every gateway of a cluster uses. Config
// generations that name the same DSN share one connection pool, so a
// config reload keeps the pool. Provisioning only checks the settings:
// the database is opened (and its schema migrated) on first use.
type Storage struct {
	// DSN is the PostgreSQL connection string: a URL
	// (postgres://user:password@host:5432/dbname?sslmode=verify-full)
	// or keyword/value pairs, with pgxpool's pool_* settings (e.g.
	// pool_max_conns). Placeholders such as {env.APPLINKS_DSN} are
	// resolved, and one that is unset or empty is an error. Required.
	DSN string `json:"dsn,omitempty"`
	// KeyFilePath is the file that holds the at-rest key when no
	// secret_key is configured; it is created when missing, and every
	// gateway of the cluster needs the same one. Default: none, so
	// secret_key (the same on every gateway) is required.
	KeyFilePath string `json:"key_file,omitempty"`

	logger  *zap.Logger
	dsn     string // DSN with placeholders resolved, the pool key
	keyFile string // absolute KeyFilePath

	ref storepool.Ref // this module's reference to the open store
}

// CaddyModule returns the Caddy module information.
func (*Storage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "applinks.storage.postgres",
		New: func() caddy.Module { return new(Storage) },
	}
}

// Provision resolves the DSN's placeholders and checks that it parses,
// without connecting.
func (s *Storage) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.DSN == "" {
		return errors.New("postgres storage needs a dsn")
	}
	repl := caddy.NewReplacer()
	dsn, err := repl.ReplaceOrErr(s.DSN, true, true)
	if err != nil {
		return fmt.Errorf("postgres storage dsn: %w", err)
	}
	if _, err := poolConfig(dsn); err != nil {
		return err
	}
	s.dsn = dsn
	if s.KeyFilePath != "" {
		path, err := repl.ReplaceOrErr(s.KeyFilePath, true, true)
		if err != nil {
			return fmt.Errorf("postgres storage key_file: %w", err)
		}
		if s.keyFile, err = filepath.Abs(path); err != nil {
			return fmt.Errorf("resolving key_file %q: %w", path, err)
		}
	}
	return nil
}

// OpenStore returns the store of the DSN, opening it (connecting and
// migrating the schema) unless another config generation has it open.
// Calling it again returns the same store.
func (s *Storage) OpenStore(ctx context.Context) (store.Store, error) {
	if s.dsn == "" {
		return nil, errors.New("opening postgres store: storage not provisioned")
	}
	val, loaded, err := s.ref.Open(pool, s.dsn, func() (caddy.Destructor, error) {
		st, err := Open(ctx, s.dsn, Options{Logger: s.logger})
		if err != nil {
			return nil, fmt.Errorf("opening postgres store %s: %w", s.Location(), err)
		}
		return pooledStore{st}, nil
	})
	if err != nil {
		return nil, err
	}
	if loaded {
		s.logger.Debug("sharing open postgres store", zap.String("database", s.Location()))
	}
	return val.(pooledStore).Store, nil
}

// KeyFile returns the key_file, or "" when none is configured (the app
// then requires secret_key).
func (s *Storage) KeyFile() string {
	if s.keyFile != "" || s.KeyFilePath == "" {
		return s.keyFile
	}
	return filepath.Clean(s.KeyFilePath)
}

// Location names the database as user@host:port/dbname, without the
// password or other settings of the DSN.
func (s *Storage) Location() string {
	dsn := s.dsn
	if dsn == "" {
		dsn = s.DSN
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "postgres database (DSN not understood)"
	}
	return cfg.User + "@" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
}

// Cleanup releases this module's reference to the store, which is closed
// when no config generation uses it any more.
func (s *Storage) Cleanup() error {
	deleted, err := s.ref.Release(pool)
	if deleted && s.logger != nil {
		s.logger.Debug("closed unused postgres store", zap.String("database", s.Location()))
	}
	if err != nil {
		return fmt.Errorf("releasing postgres store %s: %w", s.Location(), err)
	}
	return nil
}

// pool holds the open stores, keyed by DSN.
var pool = caddy.NewUsagePool()

// pooledStore is a Store held in the pool; the pool closes it when its
// last user is cleaned up.
type pooledStore struct {
	*Store
}

// Destruct closes the store's connections.
func (p pooledStore) Destruct() error {
	p.Close()
	return nil
}

// Interface guards
var (
	_ caddy.Module       = (*Storage)(nil)
	_ caddy.Provisioner  = (*Storage)(nil)
	_ caddy.CleanerUpper = (*Storage)(nil)
	_ store.Backend      = (*Storage)(nil)
	_ caddy.Destructor   = pooledStore{}
)
